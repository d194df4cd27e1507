/**
 * The table catalog: every table ccm-sync records, what its columns are and what they hold, its
 * key, how it is packaged and who keeps a copy of it. Every list of tables in ccm-sync derives from
 * here: what `record` accepts, which packager takes a table, which tables keep a local copy, what
 * `ccm-sync tables` prints and the README's table reference. The remote migration creates the same
 * tables and columns; test/contract.test.ts checks the two agree on a migrated database.
 *
 * The contract for record_data (a partial row, keyed by column name):
 * - a key that names a column must hold a value that fits it (see `fits`); otherwise the operation
 *   is refused at enqueue;
 * - a key that names no column is kept losslessly in the row's `extra` jsonb column on the remote,
 *   or refused at enqueue with `sync.strict_columns: true`;
 * - the bookkeeping columns are ccm-sync's own and refused as keys (`id` only when it differs from
 *   the record id; pass the change time as `changed_at`, not `updated_at`).
 *
 * This module is on the enqueue path (one process per hook event): it imports nothing.
 */

export type ColumnType = 'text' | 'integer' | 'numeric' | 'boolean' | 'timestamptz' | 'jsonb';

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  readonly description: string;
}

export interface TableSpec {
  readonly name: string;
  readonly description: string;
  /** Where operations go: `rows` are upserted on the remote, `summary` ones are packaged into another table. */
  readonly sync: 'rows' | 'summary';
  /** For `summary` tables: the remote table the packager writes. */
  readonly summarisedInto?: string;
  /** ccm-sync keeps a local copy of each record, refreshed when the remote version wins. */
  readonly localCopy: boolean;
  /** Who writes it: the user (via enqueue, hooks, the API) or ccm-sync itself. */
  readonly writtenBy: 'user' | 'ccm-sync' | 'user and ccm-sync';
  readonly columns: readonly ColumnSpec[];
}

const c = (name: string, type: ColumnType, description: string): ColumnSpec => ({ name, type, description });

export const TABLES: readonly TableSpec[] = [
  {
    name: 'tasks', description: 'Units of work on this system', sync: 'rows', localCopy: true, writtenBy: 'user',
    columns: [
      c('title', 'text', 'Short title'), c('description', 'text', 'Longer description'), c('status', 'text', 'e.g. pending, in_progress, complete'),
      c('priority', 'text', 'e.g. low, normal, high'), c('assignee', 'text', 'Who works on it'), c('project', 'text', 'Project it belongs to'),
      c('metadata', 'jsonb', 'Anything structured'), c('created_at', 'timestamptz', 'When it was created'),
      c('started_at', 'timestamptz', 'When work started'), c('completed_at', 'timestamptz', 'When it was completed'),
    ],
  },
  {
    name: 'supervisory_reports', description: 'Reviews of a task by a supervisor (a person or an agent)', sync: 'rows', localCopy: false, writtenBy: 'user',
    columns: [
      c('task_id', 'text', 'The task reviewed'), c('report_type', 'text', 'e.g. review, audit'), c('status', 'text', 'e.g. open, closed'),
      c('summary', 'text', 'The verdict in words'), c('score', 'numeric', 'A score'), c('quality_score', 'numeric', 'Quality score (e.g. 0-10)'),
      c('findings', 'jsonb', 'Structured findings'), c('recommendations', 'jsonb', 'Structured recommendations'),
      c('details', 'jsonb', 'Anything else structured'), c('created_at', 'timestamptz', 'When it was written'),
    ],
  },
  {
    name: 'alerts', description: 'Alerts raised on this system (by you, or by ccm-sync\'s own monitoring)', sync: 'rows', localCopy: false, writtenBy: 'user and ccm-sync',
    columns: [
      c('rule', 'text', 'The rule that fired'), c('level', 'text', 'info, warning, error or critical (critical syncs at once)'),
      c('severity', 'text', 'Same scale as level; either may be used'), c('category', 'text', 'e.g. sync, security (security syncs at once)'),
      c('status', 'text', 'firing or resolved'), c('message', 'text', 'What happened'), c('source', 'text', 'What raised it'),
      c('details', 'jsonb', 'Anything structured'), c('fired_at', 'timestamptz', 'When it fired'), c('resolved_at', 'timestamptz', 'When it cleared'),
    ],
  },
  {
    name: 'contexts', description: 'Working contexts (projects, directories) registered on this system', sync: 'rows', localCopy: true, writtenBy: 'user',
    columns: [
      c('name', 'text', 'Context name'), c('path', 'text', 'Where it lives'), c('action', 'text', 'registered or removed (either syncs at once)'),
      c('status', 'text', 'Current state'), c('details', 'jsonb', 'Anything structured'), c('registered_at', 'timestamptz', 'When it was registered'),
    ],
  },
  {
    name: 'task_summaries', description: 'One row per task, computed from its hook events', sync: 'rows', localCopy: false, writtenBy: 'ccm-sync',
    columns: [
      c('task_id', 'text', 'The task'), c('session_id', 'text', 'Coding-agent session'), c('cwd', 'text', 'Working directory of the session'),
      c('status', 'text', 'open, or closed once the agent stopped'), c('total_events', 'integer', 'Hook events recorded'),
      c('prompt_count', 'integer', 'User prompts in the task'), c('tools_used', 'jsonb', 'Calls per tool ({"Bash": 3})'),
      c('files_modified', 'jsonb', 'Files written or edited'), c('commands_run', 'jsonb', 'Shell commands run'),
      c('errors', 'jsonb', 'Failed tool calls'), c('error_count', 'integer', 'How many failed'), c('duration_seconds', 'numeric', 'First event to the end of the work (the closing Stop)'),
      c('first_event_at', 'timestamptz', 'First event'), c('last_event_at', 'timestamptz', 'Last event'), c('closed_at', 'timestamptz', 'When the task closed'),
      c('input_tokens', 'integer', 'Uncached input tokens of its API responses (from the transcript)'), c('output_tokens', 'integer', 'Output tokens'),
      c('cache_creation_tokens', 'integer', 'Tokens written to the prompt cache'), c('cache_read_tokens', 'integer', 'Tokens read from the prompt cache'),
      c('api_requests', 'integer', 'API responses, each counted once'), c('cost_usd', 'numeric', 'Estimated cost in dollars (config/pricing.yaml)'),
      c('models', 'jsonb', 'Per model: requests, tokens and cost'), c('unpriced_models', 'jsonb', 'Models with no price: tokens counted, cost not'),
      c('git_branch', 'text', 'Git branch of its last response'), c('git_branches', 'jsonb', 'Every branch it ran on, in order'),
      c('model_switches', 'integer', 'How often the main model changed'), c('outcome', 'text', 'completed, failed (StopFailure) or interrupted; null while open'),
      c('failure_kind', 'text', 'StopFailure\'s error: rate_limit, overloaded, …'), c('permission_requests', 'integer', 'Permission prompts shown'),
      c('permission_wait_seconds', 'numeric', 'Seconds from each prompt to its tool\'s result, summed'), c('permission_denials', 'integer', 'Tool calls denied'),
      c('repo', 'text', 'Its repository: origin\'s host and path, never credentials'), c('repo_root', 'text', 'The repository\'s top folder'),
      c('worktree', 'text', 'The linked git worktree it ran in, if any'), c('compactions', 'integer', 'Context compactions'), c('tool_failures', 'jsonb', 'Failed calls per tool ({"Bash": 1})'),
    ],
  },
  {
    name: 'system_status', description: 'Connection transitions and other state changes of this system', sync: 'rows', localCopy: false, writtenBy: 'ccm-sync',
    columns: [
      c('state', 'text', 'online, offline or draining'), c('previous_state', 'text', 'The state before'), c('reason', 'text', 'Why it changed'),
      c('since', 'timestamptz', 'When it changed'), c('details', 'jsonb', 'Anything structured'),
    ],
  },
  {
    name: 'hook_events', description: 'Coding-agent hook events: kept whole locally, uploaded as task summaries', sync: 'summary', summarisedInto: 'task_summaries',
    localCopy: false, writtenBy: 'user and ccm-sync',
    columns: [
      c('task_id', 'text', 'Required: the task the event belongs to'), c('session_id', 'text', 'Coding-agent session'),
      c('event_name', 'text', 'e.g. PreToolUse, PostToolUse'), c('tool_name', 'text', 'e.g. Bash, Edit'), c('tool_input', 'jsonb', 'The tool call\'s input'),
      c('tool_response', 'jsonb', 'The tool call\'s output (kept locally only)'), c('success', 'boolean', 'false for a failed call'),
      c('timestamp', 'timestamptz', 'When it happened (default: when recorded)'),
    ],
  },
];

/** Columns every remote table has, which ccm-sync maintains itself. */
export const BOOKKEEPING_COLUMNS: readonly ColumnSpec[] = [
  c('system_id', 'text', 'The system that owns the row (key, with id)'),
  c('id', 'text', 'The record id (key, with system_id)'),
  c('extra', 'jsonb', 'Keys of record_data that name no column, kept as they were sent'),
  c('updated_at', 'timestamptz', 'Change time of the newest write'),
  c('sync_seq', 'integer', 'Outbox position of the newest write (null: a write made directly on the remote)'),
  c('sync_op_id', 'text', 'Operation id of the newest write'),
  c('sync_version', 'text', 'Version of the newest write (change time and outbox position)'),
  c('sync_clock', 'jsonb', 'Version of each column\'s last write, for per-column last-write-wins'),
];

const BY_NAME: ReadonlyMap<string, TableSpec> = new Map(TABLES.map((t) => [t.name, t]));

export const TABLE_NAMES: readonly string[] = TABLES.map((t) => t.name);
/** Tables whose operations are upserted as rows on the remote. */
export const ROW_TABLES: readonly string[] = TABLES.filter((t) => t.sync === 'rows').map((t) => t.name);
export const LOCAL_COPY_TABLES: ReadonlySet<string> = new Set(TABLES.filter((t) => t.localCopy).map((t) => t.name));
const RESERVED: ReadonlySet<string> = new Set(BOOKKEEPING_COLUMNS.map((b) => b.name));

export function tableSpec(name: string): TableSpec | undefined {
  return BY_NAME.get(name);
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Whether an ISO_TIME string names a real moment Postgres can store: JavaScript's parser rolls
 * 2026-02-30 over to March, and Postgres has no year 0; both would be refused by the remote.
 */
function realTime(text: string): boolean {
  const [y, m, d] = text.slice(0, 10).split('-').map(Number);
  const [hh = 0, mm = 0, ss = 0] = text.length > 11 ? text.slice(11, 19).split(':').map((n) => Number.parseInt(n, 10)) : [];
  const daysInMonth = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth && hh <= 24 && mm <= 59 && ss <= 60 && !Number.isNaN(Date.parse(text.replace(' ', 'T')));
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'number' && !Number.isFinite(v)) return 'a number too large to store';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const text = JSON.stringify(v);
  return `${typeof v} ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

/** Why `value` cannot be stored in a column of `type`, or undefined when it fits. */
export function misfit(type: ColumnType, value: unknown): string | undefined {
  if (value === null || type === 'jsonb') return undefined;
  switch (type) {
    case 'text':
      return typeof value === 'string' ? undefined : `expects text (a JSON string), got ${describe(value)}`;
    case 'integer':
      if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) <= 2_147_483_647) return undefined;
      return `expects a whole number between -2147483648 and 2147483647, got ${describe(value)}`;
    case 'numeric':
      if ((typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && NUMERIC.test(value.trim()))) return undefined;
      return `expects a number, got ${describe(value)}`;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `expects true or false, got ${describe(value)}`;
    case 'timestamptz':
      if (typeof value === 'string' && ISO_TIME.test(value.trim()) && realTime(value.trim())) return undefined;
      return `expects an ISO 8601 time such as "2026-11-25T10:00:00Z" (a real date, year 1 or later), got ${describe(value)}`;
  }
}

export interface ContractOptions {
  /** Refuse keys that name no column instead of keeping them in `extra`. */
  strictColumns: boolean;
}

/**
 * Checks one operation's record_data against its table. Returns the problems (empty when it
 * fits). `id` equal to the record id is allowed and dropped by the caller (see `withoutRedundantId`).
 */
export function contractProblems(table: TableSpec, recordId: string, data: Record<string, unknown>, opts: ContractOptions): string[] {
  const problems: string[] = [];
  const cols = new Map(table.columns.map((col) => [col.name, col]));
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(data)) {
    const col = cols.get(key);
    if (col) {
      const why = misfit(col.type, value);
      if (why) problems.push(`${table.name}.${key} ${why}`);
    } else if (RESERVED.has(key) && table.sync === 'rows') {
      if (key === 'id' && (typeof value === 'string' || typeof value === 'number') && String(value) === recordId) continue;
      problems.push(key === 'updated_at'
        ? 'updated_at is kept by ccm-sync; pass the change time as changed_at (--changed-at) instead'
        : `${key} is a column ccm-sync maintains itself; remove it from record_data${key === 'id' ? ' (the record id is --id / record_id)' : ''}`);
    } else if (table.sync === 'rows') {
      unknown.push(key);
    }
  }
  if (unknown.length && opts.strictColumns) {
    problems.push(`${table.name} has no column ${unknown.join(', ')} (sync.strict_columns is on); its columns are ${table.columns.map((x) => x.name).join(', ')}`);
  }
  return problems;
}

/** record_data without an `id` that only repeats the record id. */
export function withoutRedundantId(data: Record<string, unknown>): Record<string, unknown> {
  if (!('id' in data)) return data;
  const { id: _id, ...rest } = data;
  return rest;
}

/**
 * A remote row as the record it stands for: its data columns and the keys kept in `extra`, without
 * ccm-sync's bookkeeping and without nulls (a null column is a key never written, or cleared).
 */
export function recordFromRemoteRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (!RESERVED.has(k) && v !== null) out[k] = v;
  const extra = row.extra;
  if (extra && typeof extra === 'object' && !Array.isArray(extra)) {
    for (const [k, v] of Object.entries(extra as Record<string, unknown>)) if (!(k in out) && v !== null) out[k] = v;
  }
  return out;
}
