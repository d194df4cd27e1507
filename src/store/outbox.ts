/**
 * Every statement on the outbox (`sync_queue`) that records, pages and settles operations, and its
 * counters (`pending_counts`). Reviewing what is held back (failed, conflicts) lives in
 * ./review.ts.
 *
 * Invariant: the pending count of a bucket equals the number of rows with status 'pending' whose
 * `buckets` contain it ('total' counts every pending row). Every method that moves a row into or
 * out of 'pending' adjusts the counters in the same transaction; `recount()` rebuilds them.
 * The recorded count only grows: every insert adds to it, nothing else touches it.
 *
 * For a named bucket both counts are its pending_counts row (n, recorded). The 'total' row is not
 * written on insert, which saves a page, that is a WAL frame, on every recorded operation: each
 * insert takes the next AUTOINCREMENT id and so adds one to sqlite_sequence's seq for sync_queue,
 * and the 'total' row holds offsets from it (pending = seq + n, recorded = seq + recorded).
 *
 * Every read that status, the dashboard or /metrics make is a counter or an indexed read: their
 * cost does not grow with the synced history.
 */
import { statements, type Db } from './db.ts';
import { PRIORITIES, type OutboxRow } from '../types.ts';
import { TABLES } from '../catalog.ts';

/** Operations ever inserted into sync_queue (its AUTOINCREMENT sequence). Returns: {seq}. */
const SEQ = `SELECT coalesce(max(seq), 0) AS seq FROM sqlite_sequence WHERE name = 'sync_queue'`;

/** The lowest id among pending operations of one priority rank (one index seek). */
const LOWEST_PENDING = (rank: number) => `SELECT min(id) AS m FROM sync_queue INDEXED BY idx_sync_queue_next WHERE status = 'pending' AND priority_rank = ${rank}`;

/** Tables whose operations the worker never reads record_data of (packaged from local detail). */
const SUMMARY_TABLES = JSON.stringify(TABLES.filter((t) => t.sync === 'summary').map((t) => t.name));

/** A row about to be inserted: the outbox row before it has an id or a try, plus its buckets. */
export type NewOutboxRow = Omit<OutboxRow, 'id' | 'retry_count'> & { buckets: string };

export interface SettledRow {
  id: number;
  buckets: string;
}

export type Counts = Record<string, number>;

/** What the threshold watch looks at: pending counts, and ever-recorded counts, per bucket. */
export interface Activity {
  pending: Counts;
  recorded: Counts;
}

export interface PendingRow extends OutboxRow {
  buckets: string;
  /** 1 when a person chose `conflicts resolve --keep local`: upload over a newer remote. */
  force: number;
  /** Bytes of record_data as stored. */
  bytes: number;
  /** For summary tables (hook events): the task, read by SQLite; record_data is not loaded. */
  task_id?: string | number | null;
}

export interface PageOptions {
  /** Operations already packaged or uploading: the page skips them. */
  exclude?: readonly number[];
  /** Only urgent operations and these tables (selective sync). */
  onlyTables?: readonly string[];
  /** Stop before the loaded record_data passes this many bytes (the first row always comes). */
  maxBytes?: number;
}

/** Adds a row's buckets to `into`, with 'total' unless the row is a new insert (see above). */
export function addBuckets(into: Map<string, number>, buckets: string, sign: 1 | -1, inserted = false): void {
  if (!inserted) into.set('total', (into.get('total') ?? 0) + sign);
  if (!buckets) return;
  for (const b of buckets.split(',')) into.set(b, (into.get(b) ?? 0) + sign);
}

/** The outbox's statements, prepared on first use. */
const OUTBOX_SQL = {
  // insert: one operation. Params: NewOutboxRow. Returns: run info (lastInsertRowid).
  // A plain INSERT on purpose: the 'total' count relies on every successful insert taking
  // the next id (no OR IGNORE, no upsert, no explicit id).
  insert: (`
    INSERT INTO sync_queue (op_id, operation, table_name, record_id, record_data, priority, buckets, changed_at, created_at)
    VALUES (@op_id, @operation, @table_name, @record_id, @record_data, @priority, @buckets, @changed_at, @created_at)`),
  // bump: adds n to a bucket's pending count and `recorded` to its ever-recorded count.
  // Params: bucket, n, recorded.
  bump: (`
    INSERT INTO pending_counts (bucket, n, recorded) VALUES (?, ?, ?)
    ON CONFLICT (bucket) DO UPDATE SET n = n + excluded.n, recorded = recorded + excluded.recorded`),
  // counts: every counter, 'total' resolved against the sync_queue sequence.
  // Returns: [{bucket, n, recorded}].
  counts: (`
    SELECT c.bucket, c.n + iif(c.bucket = 'total', s.seq, 0) AS n, c.recorded + iif(c.bucket = 'total', s.seq, 0) AS recorded
    FROM pending_counts c, (${SEQ}) s`),
  // seq: operations ever inserted. Returns: {seq}.
  seq: SEQ,
  // page: the next pending operations in upload order (urgent first, then oldest), skipping
  // those waiting for a retry time and those excluded, and stopping at a byte budget of loaded
  // record_data. Summary tables come without record_data (their task id instead).
  // Params: now (epoch ms), exclude (JSON ids), all (1: every table), tables (JSON), summary
  // (JSON tables), limit, max_bytes. Returns: PendingRow[].
  page: (`
    WITH cand AS (
      SELECT id, priority_rank AS r, table_name IN (SELECT value FROM json_each(@summary)) AS s,
             coalesce(octet_length(record_data), 0) AS b
      FROM sync_queue INDEXED BY idx_sync_queue_next
      WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= @now)
        AND id NOT IN (SELECT value FROM json_each(@exclude))
        AND (@all = 1 OR priority_rank = 0 OR table_name IN (SELECT value FROM json_each(@tables)))
      ORDER BY priority_rank, id
      LIMIT @limit),
    run AS (SELECT id, r, s, b, sum(iif(s, 0, b)) OVER (ORDER BY r, id ROWS UNBOUNDED PRECEDING) - iif(s, 0, b) AS before FROM cand)
    SELECT q.id, q.op_id, q.operation, q.table_name, q.record_id,
           iif(run.s, NULL, q.record_data) AS record_data,
           iif(run.s, json_extract(q.record_data, '$.task_id'), NULL) AS task_id,
           run.b AS bytes, q.priority, q.buckets, q.changed_at, q.created_at, q.retry_count, q.force
    FROM run JOIN sync_queue q ON q.id = run.id
    WHERE run.before < @max_bytes
    ORDER BY run.r, run.id`),
  // markSynced: settles one operation as synced. Params: result, synced_at, id.
  markSynced: (`
    UPDATE sync_queue SET status = 'synced', result = ?, synced_at = ?, error_message = NULL, next_attempt_at = NULL
    WHERE id = ? AND status = 'pending'`),
  // markRetry: an upload attempt failed; try again later. Params: error, code, next_attempt_at, id.
  markRetry: (`
    UPDATE sync_queue SET retry_count = retry_count + 1, error_message = ?, error_code = ?, next_attempt_at = ?
    WHERE id = ? AND status = 'pending'`),
  // markFailed: dead letter. Params: error, code, failed_at, id.
  markFailed: (`
    UPDATE sync_queue SET status = 'failed', retry_count = retry_count + 1, error_message = ?, error_code = ?, failed_at = ?,
           next_attempt_at = NULL
    WHERE id = ? AND status = 'pending'`),
  // markConflict: waits for manual review. Params: remote_data, error, id.
  markConflict: (`
    UPDATE sync_queue SET status = 'conflict', remote_data = ?, error_message = ?, next_attempt_at = NULL
    WHERE id = ? AND status = 'pending'`),
  // lowest: the lowest id that may still be sent: pending (any rank), failed or conflict.
  // Returns: {low} (null when there is none).
  lowest: (`
    SELECT min(m) AS low FROM (${[0, 1, 2, 3].map(LOWEST_PENDING).join(' UNION ALL ')}
      UNION ALL SELECT min(id) FROM sync_queue INDEXED BY idx_sync_queue_status WHERE status IN ('failed', 'conflict'))`),
  // oldest: the created_at of the oldest pending operation. Returns: {created_at} or undefined.
  oldest: (`SELECT created_at FROM sync_queue WHERE id = (SELECT min(m) FROM (${[0, 1, 2, 3].map(LOWEST_PENDING).join(' UNION ALL ')}))`),
  // byPriority: pending operations per priority rank, from the pending index alone. Returns: [{rank, n}].
  byPriority: (`SELECT priority_rank AS rank, count(*) AS n FROM sync_queue INDEXED BY idx_sync_queue_next WHERE status = 'pending' GROUP BY priority_rank`),
  // byTable: pending operations per table (reads each pending row). Returns: [{key, n}].
  byTable: (`SELECT table_name AS key, count(*) AS n FROM sync_queue INDEXED BY idx_sync_queue_next WHERE status = 'pending' GROUP BY table_name ORDER BY n DESC`),
  // heldBack: failed and conflict counts, from their partial index. Returns: [{key, n}].
  heldBack: (`SELECT status AS key, count(*) AS n FROM sync_queue INDEXED BY idx_sync_queue_status WHERE status IN ('failed', 'conflict') GROUP BY status`),
  // prune: deletes up to `limit` synced rows settled before a time, oldest first. Params: iso, limit.
  prune: (`
    DELETE FROM sync_queue WHERE id IN (
      SELECT id FROM sync_queue INDEXED BY idx_sync_queue_synced WHERE status = 'synced' AND synced_at < ? ORDER BY synced_at LIMIT ?)`),
  // recount: rebuilds counters from the rows.
  pendingBuckets: (`SELECT buckets, count(*) AS n FROM sync_queue WHERE status = 'pending' GROUP BY buckets`),
  // setSeq: moves the id sequence forward. Params: seq.
  setSeq: (`UPDATE sqlite_sequence SET seq = ? WHERE name = 'sync_queue'`),
  // shiftTotal: keeps 'total' (an offset from the sequence) right when the sequence moves. Params: delta, delta.
  shiftTotal: (`UPDATE pending_counts SET n = n - ?, recorded = recorded - ? WHERE bucket = 'total'`),
};

export class Outbox {
  readonly db: Db;
  private readonly stmts;

  constructor(db: Db) {
    this.db = db;
    this.stmts = statements(db, OUTBOX_SQL);
  }

  /** Inserts operations and bumps their counters. Call inside a transaction. */
  insertMany(rows: readonly NewOutboxRow[]): void {
    const deltas = new Map<string, number>();
    for (const row of rows) {
      this.stmts.insert.run(row);
      addBuckets(deltas, row.buckets, 1, true);
    }
    this.applyDeltas(deltas, true);
  }

  /** Adds to the pending counts; `recorded` also counts the rows as newly recorded. */
  applyDeltas(deltas: Map<string, number>, recorded = false): void {
    for (const [bucket, n] of deltas) if (n !== 0) this.stmts.bump.run(bucket, n, recorded ? n : 0);
  }

  /** Pending operations per bucket. */
  counts(): Counts {
    return this.activity().pending;
  }

  /** Pending operations per bucket, and how many were ever recorded per bucket (only grows). */
  activity(): Activity {
    const pending: Counts = {};
    const recorded: Counts = {};
    for (const r of this.stmts.counts.all() as { bucket: string; n: number; recorded: number }[]) {
      pending[r.bucket] = r.n;
      recorded[r.bucket] = r.recorded;
    }
    return { pending, recorded };
  }

  pendingTotal(): number {
    return this.counts().total ?? 0;
  }

  /** The next page of pending operations in upload order. */
  page(nowMs: number, limit: number, opts: PageOptions = {}): PendingRow[] {
    return this.stmts.page.all({
      now: nowMs,
      exclude: JSON.stringify(opts.exclude ?? []),
      all: opts.onlyTables ? 0 : 1,
      tables: JSON.stringify(opts.onlyTables ?? []),
      summary: SUMMARY_TABLES,
      limit,
      max_bytes: opts.maxBytes ?? Number.MAX_SAFE_INTEGER,
    }) as PendingRow[];
  }

  /**
   * Settles rows. Each entry moves one row out of (or back into the wait of) 'pending'; counters
   * follow. Runs in one transaction, so a crash settles all of them or none.
   */
  settle(entries: readonly SettleEntry[], nowIso: string): void {
    const deltas = new Map<string, number>();
    this.db.transaction(() => {
      for (const e of entries) {
        let changed = 0;
        switch (e.kind) {
          case 'synced':
            changed = this.stmts.markSynced.run(e.result, nowIso, e.row.id).changes;
            break;
          case 'failed':
            changed = this.stmts.markFailed.run(e.error, e.code ?? null, nowIso, e.row.id).changes;
            break;
          case 'conflict':
            changed = this.stmts.markConflict.run(e.remote, e.error, e.row.id).changes;
            break;
          case 'retry':
            this.stmts.markRetry.run(e.error, e.code ?? null, e.nextAttemptAt, e.row.id);
            break;
        }
        if (changed > 0) addBuckets(deltas, e.row.buckets, -1);
      }
      this.applyDeltas(deltas);
    }).immediate();
  }

  /**
   * The settled watermark: every operation at or below it is settled for good (synced or
   * discarded) and will never be sent again; everything above is pending, failed, in conflict, or
   * not recorded yet.
   */
  settledThrough(): number {
    const low = (this.stmts.lowest.get() as { low: number | null }).low;
    return low === null ? (this.stmts.seq.get() as { seq: number }).seq : low - 1;
  }

  /**
   * Moves the id sequence to at least `to`, so new operations are numbered above it (after the
   * remote refused operations below its watermark: this database is an older copy). The 'total'
   * counter is an offset from the sequence and moves with it.
   */
  advanceSequence(to: number): boolean {
    return this.db.transaction(() => {
      const seq = (this.stmts.seq.get() as { seq: number }).seq;
      if (to <= seq) return false;
      this.stmts.setSeq.run(to);
      this.stmts.shiftTotal.run(to - seq, to - seq);
      return true;
    }).immediate();
  }

  oldestPendingCreatedAt(): string | undefined {
    return (this.stmts.oldest.get() as { created_at: string } | undefined)?.created_at;
  }

  pendingByPriority(): Record<string, number> {
    const rows = this.stmts.byPriority.all() as { rank: number; n: number }[];
    return Object.fromEntries(rows.map((r) => [PRIORITIES[r.rank]!, r.n]));
  }

  /** Pending operations per table; undefined above `maxPending` (it reads every pending row). */
  pendingByTable(maxPending = 50_000): Record<string, number> | undefined {
    if (this.pendingTotal() > maxPending) return undefined;
    const rows = this.stmts.byTable.all() as { key: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.key, r.n]));
  }

  /** Failed and conflict counts. */
  heldBack(): { failed: number; conflict: number } {
    const by = Object.fromEntries((this.stmts.heldBack.all() as { key: string; n: number }[]).map((r) => [r.key, r.n]));
    return { failed: by.failed ?? 0, conflict: by.conflict ?? 0 };
  }

  /** Deletes up to `limit` synced rows settled before `beforeIso`, oldest first. Returns how many. */
  pruneSynced(beforeIso: string, limit = 5000): number {
    return this.stmts.prune.run(beforeIso, limit).changes;
  }

  /** Rebuilds pending_counts from the rows (startup and after pruning). */
  recount(): Counts {
    return this.db.transaction(() => {
      const deltas = new Map<string, number>();
      for (const r of this.stmts.pendingBuckets.all() as { buckets: string; n: number }[]) {
        deltas.set('total', (deltas.get('total') ?? 0) + r.n);
        if (r.buckets) for (const b of r.buckets.split(',')) deltas.set(b, (deltas.get(b) ?? 0) + r.n);
      }
      const counts = Object.fromEntries(deltas);
      this.db.prepare("INSERT OR IGNORE INTO pending_counts (bucket, n, recorded) VALUES ('total', 0, 0)").run();
      this.db.prepare('UPDATE pending_counts SET n = 0').run();
      deltas.set('total', (deltas.get('total') ?? 0) - (this.stmts.seq.get() as { seq: number }).seq);
      this.applyDeltas(deltas);
      return counts;
    }).immediate();
  }
}

export type SettleEntry =
  | { kind: 'synced'; row: SettledRow; result: string }
  | { kind: 'failed'; row: SettledRow; error: string; code?: string }
  | { kind: 'conflict'; row: SettledRow; error: string; remote: string | null }
  | { kind: 'retry'; row: SettledRow; error: string; code?: string; nextAttemptAt: number };
