/**
 * Every statement on the outbox (`sync_queue`) and its counters (`pending_counts`).
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
 */
import { statements, type Db } from './db.ts';
import type { OutboxRow } from '../types.ts';

/** Operations ever inserted into sync_queue (its AUTOINCREMENT sequence). Returns: {seq}. */
const SEQ = `SELECT coalesce(max(seq), 0) AS seq FROM sqlite_sequence WHERE name = 'sync_queue'`;

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
}

export interface FailedRow {
  id: number;
  op_id: string;
  table_name: string;
  record_id: string;
  operation: string;
  retry_count: number;
  error_message: string | null;
  created_at: string;
}

export interface ConflictRow {
  id: number;
  op_id: string;
  table_name: string;
  record_id: string;
  operation: string;
  record_data: string | null;
  remote_data: string | null;
  changed_at: string;
}

/** Adds a row's buckets to `into`, with 'total' unless the row is a new insert (see above). */
function addBuckets(into: Map<string, number>, buckets: string, sign: 1 | -1, inserted = false): void {
  if (!inserted) into.set('total', (into.get('total') ?? 0) + sign);
  if (!buckets) return;
  for (const b of buckets.split(',')) into.set(b, (into.get(b) ?? 0) + sign);
}

export class Outbox {
  readonly db: Db;
  private readonly stmts;

  constructor(db: Db) {
    this.db = db;
    this.stmts = statements(db, {
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
      // those waiting for a retry time. Params: now (epoch ms), limit. Returns: PendingRow[].
      page: (`
        SELECT id, op_id, operation, table_name, record_id, record_data, priority, buckets, changed_at, created_at, retry_count, force
        FROM sync_queue INDEXED BY idx_sync_queue_next
        WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
        ORDER BY priority_rank, id
        LIMIT ?`),
      // pageOf: like page, restricted to urgent operations and the given tables (selective sync).
      // Params: now (epoch ms), tables (JSON array), limit. Returns: PendingRow[].
      pageOf: (`
        SELECT id, op_id, operation, table_name, record_id, record_data, priority, buckets, changed_at, created_at, retry_count, force
        FROM sync_queue INDEXED BY idx_sync_queue_next
        WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
          AND (priority_rank = 0 OR table_name IN (SELECT value FROM json_each(?)))
        ORDER BY priority_rank, id
        LIMIT ?`),
      // markSynced: settles one operation as synced. Params: result, synced_at, id.
      markSynced: (`
        UPDATE sync_queue SET status = 'synced', result = ?, synced_at = ?, error_message = NULL, next_attempt_at = NULL
        WHERE id = ? AND status = 'pending'`),
      // markRetry: an upload attempt failed; try again later. Params: error, next_attempt_at, id.
      markRetry: (`
        UPDATE sync_queue SET retry_count = retry_count + 1, error_message = ?, next_attempt_at = ?
        WHERE id = ? AND status = 'pending'`),
      // markFailed: dead letter. Params: error, id.
      markFailed: (`
        UPDATE sync_queue SET status = 'failed', retry_count = retry_count + 1, error_message = ?, next_attempt_at = NULL
        WHERE id = ? AND status = 'pending'`),
      // markConflict: waits for manual review. Params: remote_data, error, id.
      markConflict: (`
        UPDATE sync_queue SET status = 'conflict', remote_data = ?, error_message = ?, next_attempt_at = NULL
        WHERE id = ? AND status = 'pending'`),
      // pendingSince: the oldest pending operation's created_at. Returns: {created_at} or undefined.
      oldest: (`SELECT created_at FROM sync_queue INDEXED BY idx_sync_queue_next WHERE status = 'pending' ORDER BY id LIMIT 1`),
      // byPriority / byTable: pending operations grouped. Returns: [{key, n}].
      byPriority: (`SELECT priority AS key, count(*) AS n FROM sync_queue WHERE status = 'pending' GROUP BY priority`),
      byTable: (`SELECT table_name AS key, count(*) AS n FROM sync_queue WHERE status = 'pending' GROUP BY table_name ORDER BY n DESC`),
      byStatus: (`SELECT status AS key, count(*) AS n FROM sync_queue GROUP BY status`),
      // failed / conflicts: rows for review. Params: limit.
      failed: (`
        SELECT id, op_id, table_name, record_id, operation, retry_count, error_message, created_at
        FROM sync_queue WHERE status = 'failed' ORDER BY id DESC LIMIT ?`),
      conflicts: (`
        SELECT id, op_id, table_name, record_id, operation, record_data, remote_data, changed_at
        FROM sync_queue WHERE status = 'conflict' ORDER BY id LIMIT ?`),
      conflictById: (`
        SELECT id, op_id, table_name, record_id, operation, record_data, remote_data, changed_at, status, buckets, result, force
        FROM sync_queue WHERE id = ? OR op_id = ?`),
      // retryFailed: failed → pending with a fresh retry budget. Returns: the rows moved.
      failedIds: (`SELECT id, buckets FROM sync_queue WHERE status = 'failed'`),
      requeue: (`
        UPDATE sync_queue SET status = 'pending', retry_count = 0, next_attempt_at = NULL, error_message = NULL, force = ?
        WHERE id = ? AND status IN ('failed', 'conflict')`),
      // keepRemote: a person settled a conflict for the remote version. Params: id.
      keepRemote: (`
        UPDATE sync_queue SET status = 'synced', result = 'kept_remote', synced_at = ?, error_message = NULL
        WHERE id = ? AND status = 'conflict'`),
      // prune: deletes synced rows settled before a time. Params: iso. Returns: changes.
      prune: (`DELETE FROM sync_queue WHERE status = 'synced' AND synced_at < ?`),
      // recount: rebuilds counters from the rows.
      pendingBuckets: (`SELECT buckets, count(*) AS n FROM sync_queue WHERE status = 'pending' GROUP BY buckets`),
    });
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
  private applyDeltas(deltas: Map<string, number>, recorded = false): void {
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
  page(nowMs: number, limit: number, onlyTables?: readonly string[]): PendingRow[] {
    if (onlyTables) return this.stmts.pageOf.all(nowMs, JSON.stringify(onlyTables), limit) as PendingRow[];
    return this.stmts.page.all(nowMs, limit) as PendingRow[];
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
            changed = this.stmts.markFailed.run(e.error, e.row.id).changes;
            break;
          case 'conflict':
            changed = this.stmts.markConflict.run(e.remote, e.error, e.row.id).changes;
            break;
          case 'retry':
            this.stmts.markRetry.run(e.error, e.nextAttemptAt, e.row.id);
            break;
        }
        if (changed > 0) addBuckets(deltas, e.row.buckets, -1);
      }
      this.applyDeltas(deltas);
    }).immediate();
  }

  oldestPendingCreatedAt(): string | undefined {
    return (this.stmts.oldest.get() as { created_at: string } | undefined)?.created_at;
  }

  groupedPending(by: 'priority' | 'table'): Record<string, number> {
    const rows = (by === 'priority' ? this.stmts.byPriority : this.stmts.byTable).all() as { key: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.key, r.n]));
  }

  byStatus(): Record<string, number> {
    const rows = this.stmts.byStatus.all() as { key: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.key, r.n]));
  }

  failed(limit = 50): FailedRow[] {
    return this.stmts.failed.all(limit) as FailedRow[];
  }

  conflicts(limit = 100): ConflictRow[] {
    return this.stmts.conflicts.all(limit) as ConflictRow[];
  }

  findConflict(idOrOpId: string): (ConflictRow & { status: string; buckets: string; result: string | null; force: number }) | undefined {
    const n = /^\d+$/.test(idOrOpId) ? Number(idOrOpId) : -1;
    return this.stmts.conflictById.get(n, idOrOpId) as (ConflictRow & { status: string; buckets: string; result: string | null; force: number }) | undefined;
  }

  /** Moves every failed operation back to pending with a fresh retry budget. Returns how many. */
  retryFailed(): number {
    return this.db.transaction(() => {
      const rows = this.stmts.failedIds.all() as { id: number; buckets: string }[];
      const deltas = new Map<string, number>();
      for (const r of rows) {
        this.stmts.requeue.run(0, r.id);
        addBuckets(deltas, r.buckets, 1);
      }
      this.applyDeltas(deltas);
      return rows.length;
    }).immediate();
  }

  /** Moves one conflict back to pending (its data may have been changed by the caller first). */
  requeueConflict(id: number, buckets: string, force: boolean): boolean {
    return this.db.transaction(() => {
      const moved = this.stmts.requeue.run(force ? 1 : 0, id).changes > 0;
      if (moved) this.applyDeltas(addAll(buckets));
      return moved;
    }).immediate();
  }

  /** Settles a conflict in favour of the remote version (it was never pending, so no counters). */
  keepRemote(id: number, nowIso: string): boolean {
    return this.stmts.keepRemote.run(nowIso, id).changes > 0;
  }

  /** Deletes synced rows settled before `beforeIso`. Returns how many. */
  pruneSynced(beforeIso: string): number {
    return this.stmts.prune.run(beforeIso).changes;
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

function addAll(buckets: string): Map<string, number> {
  const m = new Map<string, number>();
  addBuckets(m, buckets, 1);
  return m;
}

export type SettleEntry =
  | { kind: 'synced'; row: SettledRow; result: string }
  | { kind: 'failed'; row: SettledRow; error: string }
  | { kind: 'conflict'; row: SettledRow; error: string; remote: string | null }
  | { kind: 'retry'; row: SettledRow; error: string; nextAttemptAt: number };
