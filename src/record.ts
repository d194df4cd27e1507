/**
 * Stage 1, record: validate operations and write them to the outbox in one transaction.
 *
 * This is the hot path: coding-agent hooks call `ccm-sync enqueue` once per event, so it loads
 * nothing but SQLite. Validation rejects the whole call (nothing is written) and names the line or
 * field at fault. Besides the outbox row, the same transaction keeps the local detail: a hook event
 * lands in `hook_events` (the remote only ever gets summaries), and tasks and contexts keep a local
 * copy in `local_records`.
 *
 * Classification: each operation gets threshold buckets (tasks, contexts, errors, ...) that the
 * counters track, and critical or security alerts are raised to priority urgent.
 */
import * as nodeCrypto from 'node:crypto';
import { InputError } from './errors.ts';
import { LOCAL_COPY_TABLES, TABLE_NAMES, contractProblems, tableSpec, withoutRedundantId } from './catalog.ts';
import { statements, storeError, type Db } from './store/db.ts';
import { Outbox, type Counts, type NewOutboxRow } from './store/outbox.ts';
import { OPERATIONS, PRIORITIES, type OperationInput, type Priority } from './types.ts';
import type { Clock } from './clock.ts';

export interface RecordOptions {
  clock: Clock;
  /** Largest serialized record_data accepted, in bytes. */
  maxRecordBytes: number;
  /** Refuse keys that name no column (sync.strict_columns). */
  strictColumns?: boolean;
}

export interface RecordResult {
  op_ids: string[];
  /** Pending counters after the insert, for the threshold check. */
  counts: Counts;
}

function fail(where: string, msg: string): never {
  throw new InputError(`${where}: ${msg}`);
}

/** The threshold buckets of an operation, and whether it is critical enough to be urgent. */
export function classify(table: string, data: Record<string, unknown> | null): { buckets: string[]; critical: boolean } {
  const buckets: string[] = [];
  let critical = false;
  if (table === 'tasks') buckets.push('tasks');
  if (table === 'contexts') {
    buckets.push('contexts');
    if (data && (data.action === 'registered' || data.action === 'removed')) buckets.push('context_change');
  }
  if (table === 'alerts' && data) {
    // The design writes `level`; ccm-sync's own alerts write `severity`. Either counts.
    const severity = data.severity ?? data.level;
    if (severity === 'error' || severity === 'critical') buckets.push('errors');
    if (severity === 'critical') {
      buckets.push('critical');
      critical = true;
    }
    if (data.category === 'security') {
      buckets.push('security');
      critical = true;
    }
  }
  if (table === 'hook_events' && data && data.success === false) buckets.push('errors');
  return { buckets, critical };
}

/**
 * Operation ids are time-ordered (UUIDv7) where Node has them (24.16 and later, the Node ccm-sync
 * ships for its scripts): consecutive operations then land side by side in the outbox's op_id
 * index and in the remote ledger's primary key instead of each on a random page, so a commit
 * writes fewer pages. Older Node gets version 4 ids, which are just as unique.
 */
const newOpId: () => string = typeof nodeCrypto.randomUUIDv7 === 'function' ? () => nodeCrypto.randomUUIDv7() : () => nodeCrypto.randomUUID();

const INPUT_FIELDS: ReadonlySet<string> = new Set(['operation', 'table_name', 'record_id', 'record_data', 'priority', 'changed_at']);

/** An outbox row to write, with its record_data still parsed for the local detail. */
interface Prepared {
  row: NewOutboxRow;
  data: Record<string, unknown> | null;
}

/** Checks one input and returns the outbox row it becomes. `where` names it in errors. */
function prepare(input: unknown, where: string, opts: RecordOptions, nowIso: string): Prepared {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) fail(where, 'expected a JSON object');
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!INPUT_FIELDS.has(k)) fail(where, `unknown field "${k}" (allowed: ${[...INPUT_FIELDS].join(', ')})`);
  const operation = typeof o.operation === 'string' ? o.operation.toUpperCase() : o.operation;
  if (!OPERATIONS.includes(operation as never)) fail(where, `operation must be one of ${OPERATIONS.join(', ')}, got ${JSON.stringify(o.operation)}`);
  const table = o.table_name;
  const spec = typeof table === 'string' ? tableSpec(table) : undefined;
  if (!spec) fail(where, `unknown table ${JSON.stringify(table)}; ccm-sync syncs ${TABLE_NAMES.join(', ')} (see \`ccm-sync tables\`)`);
  const rid = typeof o.record_id === 'number' ? String(o.record_id) : o.record_id;
  if (typeof rid !== 'string' || rid.length === 0 || rid.length > 256) fail(where, 'record_id must be a non-empty string of at most 256 characters');
  let data: Record<string, unknown> | null = null;
  if (o.record_data !== undefined && o.record_data !== null) {
    if (typeof o.record_data !== 'object' || Array.isArray(o.record_data)) fail(where, 'record_data must be a JSON object');
    data = o.record_data as Record<string, unknown>;
    if (spec.sync === 'summary' && typeof data.task_id === 'number') data = { ...data, task_id: String(data.task_id) };
    const problems = contractProblems(spec, rid, data, { strictColumns: opts.strictColumns ?? false });
    if (problems.length) fail(where, problems.join('; '));
    data = withoutRedundantId(data);
  } else if (operation !== 'DELETE') {
    fail(where, `${String(operation)} needs record_data`);
  }
  const priority = (o.priority ?? 'normal') as Priority;
  if (!PRIORITIES.includes(priority)) fail(where, `priority must be one of ${PRIORITIES.join(', ')}, got ${JSON.stringify(o.priority)}`);
  let changedAt = nowIso;
  if (o.changed_at !== undefined) {
    const t = typeof o.changed_at === 'string' ? Date.parse(o.changed_at) : NaN;
    if (Number.isNaN(t)) fail(where, `changed_at must be an ISO 8601 time, got ${JSON.stringify(o.changed_at)}`);
    changedAt = new Date(t).toISOString();
  }
  if (spec.sync === 'summary' && data && typeof data.task_id !== 'string') {
    fail(where, `a ${spec.name} record needs record_data.task_id`);
  }
  const json = data === null ? null : JSON.stringify(data);
  // A string of n UTF-16 units is at most 3n UTF-8 bytes: most records need no count at all.
  if (json !== null && json.length * 3 > opts.maxRecordBytes) {
    const bytes = Buffer.byteLength(json);
    if (bytes > opts.maxRecordBytes) fail(where, `record_data is ${bytes} bytes, over the ${opts.maxRecordBytes}-byte limit (sync.max_bytes_per_request)`);
  }
  // Postgres text and jsonb cannot hold U+0000: such a record would fail every upload of its batch.
  if (json !== null && json.includes('\\u0000') && /(?<!\\)(?:\\\\)*\\u0000/.test(json)) {
    fail(where, 'record_data contains a NUL character (\\u0000), which Postgres cannot store; remove it');
  }
  // Nor a lone UTF-16 surrogate: JSON.stringify writes it as an escape, which jsonb refuses.
  if (json !== null && json.includes('\\ud') && /(?<!\\)(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/i.test(json)) {
    fail(where, 'record_data contains a lone UTF-16 surrogate (half of a character), which Postgres cannot store; fix the text encoding');
  }
  const { buckets, critical } = classify(spec.name, data);
  if (priority === 'urgent' || critical) buckets.push('urgent');
  const row: NewOutboxRow = {
    op_id: newOpId(),
    operation: operation as NewOutboxRow['operation'],
    table_name: spec.name,
    record_id: rid,
    record_data: json,
    priority: critical ? 'urgent' : priority,
    buckets: buckets.join(','),
    changed_at: changedAt,
    created_at: nowIso,
  };
  return { row, data };
}

/**
 * Writes the local detail that goes with an operation: hook events to `hook_events`, owned tables
 * to `local_records`. Same transaction as the outbox insert.
 */
class LocalDetail {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = statements(db, {
      // hook: one hook event, kept in full. Params: named. Ignores an event already kept for its task.
      hook: `
      INSERT OR IGNORE INTO hook_events (event_id, task_id, session_id, event_name, tool_name, tool_input, tool_response, success, timestamp)
      VALUES (@event_id, @task_id, @session_id, @event_name, @tool_name, @tool_input, @tool_response, @success, @timestamp)`,
      // upsert: the local copy of an owned record, if this change is newer. Params: table, id, data, changed_at, deleted.
      upsert: `
      INSERT INTO local_records (table_name, record_id, data, changed_at, deleted) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (table_name, record_id) DO UPDATE SET
        data = CASE WHEN excluded.deleted = 1 THEN local_records.data
                    ELSE json_patch(coalesce(local_records.data, '{}'), excluded.data) END,
        changed_at = excluded.changed_at, deleted = excluded.deleted
      WHERE excluded.changed_at >= local_records.changed_at`,
    });
  }

  write({ row, data: d }: Prepared): void {
    if (row.table_name === 'hook_events' && d) {
      const text = (v: unknown) => (v === undefined || v === null ? null : typeof v === 'string' ? v : JSON.stringify(v));
      this.stmts.hook.run({
        event_id: row.record_id,
        task_id: String(d.task_id),
        session_id: text(d.session_id),
        event_name: text(d.event_name ?? d.event),
        tool_name: text(d.tool_name ?? d.tool),
        tool_input: text(d.tool_input),
        tool_response: text(d.tool_response ?? d.response),
        success: d.success === false ? 0 : 1,
        timestamp: typeof d.timestamp === 'string' ? d.timestamp : row.changed_at,
      });
    } else if (LOCAL_COPY_TABLES.has(row.table_name)) {
      this.stmts.upsert.run(row.table_name, row.record_id, row.record_data ?? '{}', row.changed_at, row.operation === 'DELETE' ? 1 : 0);
    }
  }
}

/** Records operations into the outbox. Keep one per database connection; it caches statements. */
export class Recorder {
  readonly outbox: Outbox;
  private readonly detail: LocalDetail;
  private readonly opts: RecordOptions;
  private readonly db: Db;

  constructor(db: Db, opts: RecordOptions) {
    this.db = db;
    this.outbox = new Outbox(db);
    this.detail = new LocalDetail(db);
    this.opts = opts;
  }

  /** Validates every input first (all or nothing), then writes them in one transaction. */
  record(inputs: readonly (OperationInput | unknown)[], where: (i: number) => string = (i) => `operation ${i + 1}`): RecordResult {
    const nowIso = new Date(this.opts.clock.now()).toISOString();
    const prepared = inputs.map((input, i) => prepare(input, where(i), this.opts, nowIso));
    const rows = prepared.map((p) => p.row);
    try {
      return this.db.transaction(() => {
        this.outbox.insertMany(rows);
        for (const p of prepared) this.detail.write(p);
        return { op_ids: rows.map((r) => r.op_id), counts: this.outbox.counts() };
      }).immediate();
    } catch (err) {
      throw storeError(this.db.name, err);
    }
  }
}
