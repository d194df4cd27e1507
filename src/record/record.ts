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
import { OpIds } from '../op-id.ts';
import { InputError, messageOf } from '../errors.ts';
import { LOCAL_COPY_TABLES, TABLE_NAMES, tableSpec } from '../catalog.ts';
import { checkChangedAt, checkData, checkJson, fail } from './checks.ts';
import { storeError, type Db } from '../store/db.ts';
import { CLOSING_EVENTS, HookEvents, type HookEventRow } from '../store/hook-events.ts';
import { LocalRecords } from '../store/local-records.ts';
import { Outbox, type Counts, type NewOutboxRow } from '../store/outbox.ts';
import { OPERATIONS, PRIORITIES, type OperationInput, type Priority } from '../types.ts';
import type { Clock } from '../clock.ts';
import type { Settings } from '../config/load.ts';
import type { Statement } from 'better-sqlite3';

export interface RecordOptions {
  clock: Clock;
  /** Largest serialized record_data accepted, in bytes. */
  maxRecordBytes: number;
  /** Refuse keys that name no column (sync.strict_columns). */
  strictColumns?: boolean;
  /** Hook events keep strings up to this many characters (hooks.max_field_bytes). */
  maxHookFieldChars?: number;
  /** A changed_at further ahead of now than this is refused (sync.max_future_seconds). */
  maxFutureMs?: number;
}

/** The recorder's options from the settings. */
export function recordOptions(s: Pick<Settings, 'sync' | 'hooks'>, clock: Clock): RecordOptions {
  return {
    clock,
    maxRecordBytes: s.sync.max_bytes_per_request - 512,
    strictColumns: s.sync.strict_columns,
    maxHookFieldChars: s.hooks.max_field_chars,
    maxFutureMs: s.sync.max_future_seconds * 1000,
  };
}

export interface RecordResult {
  op_ids: string[];
  /** Pending counters after the insert, for the threshold check. */
  counts: Counts;
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
  if (table === 'hook_events' && data) {
    const event = data.hook_event_name ?? data.event_name;
    if (data.success === false || event === 'PostToolUseFailure') buckets.push('errors');
    // A coding agent's task ends: its summary counts towards the pending-tasks threshold.
    if (typeof event === 'string' && CLOSING_EVENTS.includes(event)) buckets.push('tasks');
  }
  return { buckets, critical };
}


const INPUT_FIELDS: ReadonlySet<string> = new Set(['operation', 'table_name', 'record_id', 'record_data', 'priority', 'changed_at']);

/** An outbox row to write, with its record_data still parsed for the local detail. */
interface Prepared {
  row: NewOutboxRow;
  data: Record<string, unknown> | null;
  /** The record's size before long strings were cut (null: nothing was cut). */
  originalBytes: number | null;
  /** changed_at is this machine's clock (none was given), so it follows the hybrid logical clock. */
  clockTime: boolean;
}

/** Checks one input and returns the outbox row it becomes. `where` names it in errors. */
function prepare(input: unknown, where: string, opts: RecordOptions, nowIso: string, opId: () => string): Prepared {
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
  const { data, originalBytes } = checkData(o.record_data, operation as string, spec, rid, opts, where);
  const priority = (o.priority ?? 'normal') as Priority;
  if (!PRIORITIES.includes(priority)) fail(where, `priority must be one of ${PRIORITIES.join(', ')}, got ${JSON.stringify(o.priority)}`);
  const changedAt = o.changed_at === undefined ? nowIso : checkChangedAt(o.changed_at, nowIso, opts.maxFutureMs, where);
  if (spec.sync === 'summary' && data && typeof data.task_id !== 'string') {
    fail(where, `a ${spec.name} record needs record_data.task_id`);
  }
  const json = data === null ? null : checkJson(JSON.stringify(data), opts.maxRecordBytes, where);
  const { buckets, critical } = classify(spec.name, data);
  // The 'urgent' bucket is for operations recorded as urgent. A critical or security alert goes up
  // first too (priority urgent), but whether it starts a sync at once is its own bucket's rule
  // (sync.event_driven.immediate_on_error for critical errors; security always).
  if (priority === 'urgent') buckets.push('urgent');
  const row: NewOutboxRow = {
    op_id: opId(),
    operation: operation as NewOutboxRow['operation'],
    table_name: spec.name,
    record_id: rid,
    record_data: json,
    priority: critical ? 'urgent' : priority,
    buckets: buckets.join(','),
    changed_at: changedAt,
    created_at: nowIso,
  };
  return { row, data, originalBytes, clockTime: o.changed_at === undefined };
}

/**
 * Writes the local detail that goes with an operation: hook events to `hook_events`, records of
 * tables ccm-sync keeps locally to `local_records`. Same transaction as the outbox insert.
 */
class LocalDetail {
  private readonly hooks: HookEvents;
  private readonly copies: LocalRecords;

  constructor(db: Db) {
    this.hooks = new HookEvents(db);
    this.copies = new LocalRecords(db);
  }

  write({ row, data: d, originalBytes }: Prepared): void {
    if (d && tableSpec(row.table_name)?.sync === 'summary') {
      this.hooks.insert(hookEventRow(row, d, originalBytes));
    } else if (LOCAL_COPY_TABLES.has(row.table_name)) {
      this.copies.patch(row.table_name, row.record_id, row.record_data ?? '{}', row.changed_at, row.operation === 'DELETE');
    }
  }
}

const text = (v: unknown): string | null => (v === undefined || v === null ? null : typeof v === 'string' ? v : JSON.stringify(v));

/**
 * A hook event as `hook_events` keeps it: the whole payload, and the fields summaries group by.
 * Takes Claude Code's field names (hook_event_name, tool_use_id, ...) and ccm-sync's older ones
 * (event_name, success: false).
 */
function hookEventRow(row: NewOutboxRow, d: Record<string, unknown>, originalBytes: number | null): HookEventRow {
  const event = text(d.hook_event_name ?? d.event_name ?? d.event);
  return {
    event_id: row.record_id,
    task_id: String(d.task_id),
    session_id: text(d.session_id),
    prompt_id: text(d.prompt_id),
    agent_id: text(d.agent_id),
    event_name: event,
    tool_name: text(d.tool_name ?? d.tool),
    tool_use_id: text(d.tool_use_id),
    cwd: text(d.cwd),
    success: d.success === false || event === 'PostToolUseFailure' ? 0 : 1,
    timestamp: typeof d.timestamp === 'string' ? d.timestamp : row.changed_at,
    payload: row.record_data ?? '{}',
    payload_bytes: originalBytes,
  };
}

/** Records operations into the outbox. Keep one per database connection; it caches statements. */
/**
 * A hybrid logical clock for this machine's own writes: a change time taken from the clock is
 * never below the last change time recorded, so when the clock is set back (NTP after running
 * ahead) the later write still wins over the earlier one; equal times are ordered by outbox
 * position. A change time given by the caller is kept as given.
 */
function holdClockOrder(prepared: Prepared[], last: string | undefined): void {
  let floor = last;
  for (const p of prepared) {
    if (p.clockTime && floor !== undefined && p.row.changed_at < floor) p.row.changed_at = floor;
    if (floor === undefined || p.row.changed_at > floor) floor = p.row.changed_at;
  }
}

/**
 * Prepares every input, or throws one InputError naming each that is refused (the first ten, and
 * how many more): one fix-and-retry is enough for a file of operations.
 */
function prepareAll<T>(inputs: readonly unknown[], one: (input: unknown, i: number) => T): T[] {
  const out: T[] = [];
  const refused: string[] = [];
  inputs.forEach((input, i) => {
    try {
      out.push(one(input, i));
    } catch (err) {
      if (!InputError.is(err) || inputs.length === 1) throw err;
      refused.push(messageOf(err));
    }
  });
  if (refused.length === 1) throw new InputError(refused[0]!);
  if (refused.length) throw new InputError(`${refused.length} of ${inputs.length} operations are refused; nothing was recorded:\n  ${refused.slice(0, 10).join('\n  ')}${refused.length > 10 ? `\n  … and ${refused.length - 10} more` : ''}`);
  return out;
}

export class Recorder {
  readonly outbox: Outbox;
  private readonly detail: LocalDetail;
  private readonly opts: RecordOptions;
  private readonly db: Db;

  private readonly ids: OpIds;
  private readonly lastChange: Statement;

  constructor(db: Db, opts: RecordOptions) {
    this.db = db;
    // lastChange: the change time of the newest operation. Params: none. Returns: the text or undefined.
    this.lastChange = db.prepare('SELECT changed_at FROM sync_queue ORDER BY id DESC LIMIT 1').pluck();
    this.ids = new OpIds((n) => db.prepare('SELECT randomblob(?)').pluck().get(n) as Buffer);
    this.outbox = new Outbox(db);
    this.detail = new LocalDetail(db);
    this.opts = opts;
  }

  /** A new time-ordered id (UUIDv7), as operations get: for callers that name records. */
  newId(nowMs: number = this.opts.clock.now()): string {
    return this.ids.next(nowMs);
  }

  /** Validates every input first (all or nothing), then writes them in one transaction. */
  record(inputs: readonly (OperationInput | unknown)[], where: (i: number) => string = (i) => `operation ${i + 1}`): RecordResult {
    const nowIso = new Date(this.opts.clock.now()).toISOString();
    const nowMs = Date.parse(nowIso);
    const opId = () => this.ids.next(nowMs);
    const prepared = prepareAll(inputs, (input, i) => prepare(input, where(i), this.opts, nowIso, opId));
    const rows = prepared.map((p) => p.row);
    try {
      return this.db.transaction(() => {
        holdClockOrder(prepared, this.lastChange.get() as string | undefined);
        this.outbox.insertMany(rows);
        for (const p of prepared) this.detail.write(p);
        return { op_ids: rows.map((r) => r.op_id), counts: this.outbox.counts() };
      }).immediate();
    } catch (err) {
      throw storeError(this.db.name, err);
    }
  }
}
