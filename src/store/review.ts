/**
 * What is held back in the outbox and why, and the statements a person uses to settle it:
 * dead letters (status 'failed': retry or discard), operations waiting out a retry delay, and
 * conflicts held for manual review (keep local or keep remote). Counters follow every move
 * into or out of 'pending' (see ./outbox.ts).
 */
import { statements, type Db } from './db.ts';
import { addBuckets, type Outbox } from './outbox.ts';
import type { Reason } from '../types.ts';

export type { Reason };

export interface FailedRow {
  id: number;
  op_id: string;
  table_name: string;
  record_id: string;
  operation: string;
  status: 'failed' | 'discarded';
  retry_count: number;
  error_message: string | null;
  error_code: string | null;
  failed_at: string | null;
  created_at: string;
  discarded_at: string | null;
  discarded_by: string | null;
}

export interface FailedDetail extends FailedRow {
  record_data: string | null;
  changed_at: string;
  priority: string;
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


export interface Held {
  /** Pending operations waiting out a retry delay. */
  waiting: number;
  next_attempt_at: string | null;
  reasons: Reason[];
}

// Queries on one status repeat the partial index's own condition (status IN (...)): SQLite uses a
// partial index only when the query's WHERE contains that condition as written.
const FAILED_COLUMNS = 'id, op_id, table_name, record_id, operation, status, retry_count, error_message, error_code, failed_at, created_at, discarded_at, discarded_by';

/** How many distinct reasons are read before alike ones are merged. */
const GROUPS = 1000;

/** A number standing alone: the digits of a code (CCM01) or a word are not one. */
const NUMBER = /(?<![\w.])\d+(?:\.\d+)?(?!\w)/g;

/**
 * Reasons that differ only in their numbers ("3210 bytes", "3212 bytes") are one reason: merged,
 * the numbers that differ shown as N, most common first. Codes, and numbers that are the same in
 * every merged reason ("CCM01", "limit of 2048"), are kept as written.
 */
export function alike(reasons: readonly Reason[], limit: number): Reason[] {
  const merged = new Map<string, { reason: Reason; parts: string[]; numbers: (string | undefined)[] }>();
  for (const r of reasons) {
    const parts = r.message.split(NUMBER);
    const numbers = r.message.match(NUMBER) ?? [];
    const key = `${r.code ?? ''}\u0000${parts.join('\u0001')}`;
    const seen = merged.get(key);
    if (!seen) merged.set(key, { reason: { ...r }, parts, numbers });
    else {
      seen.reason.count += r.count;
      seen.numbers = seen.numbers.map((n, i) => (n === numbers[i] ? n : undefined));
    }
  }
  return [...merged.values()]
    .map(({ reason, parts, numbers }) => ({ ...reason, message: parts.map((p, i) => (i === 0 ? p : `${numbers[i - 1] ?? 'N'}${p}`)).join('') }))
    .sort((a, b) => b.count - a.count)
    .slice(0, limit);
}

export class Review {
  private readonly db: Db;
  private readonly outbox: Outbox;
  private readonly stmts;

  constructor(outbox: Outbox) {
    this.outbox = outbox;
    this.db = outbox.db;
    this.stmts = statements(this.db, {
      // failed: dead letters, newest first. Params: limit. Returns: FailedRow[].
      failed: `SELECT ${FAILED_COLUMNS} FROM sync_queue INDEXED BY idx_sync_queue_status WHERE status IN ('failed', 'conflict') AND status = 'failed' ORDER BY id DESC LIMIT ?`,
      // discarded: discarded operations, newest first (reads the whole outbox). Params: limit.
      discarded: `SELECT ${FAILED_COLUMNS} FROM sync_queue WHERE status = 'discarded' ORDER BY id DESC LIMIT ?`,
      // one: a failed or discarded operation by outbox id or op_id. Params: id, op_id. Returns: FailedDetail.
      one: `SELECT ${FAILED_COLUMNS}, record_data, changed_at, priority FROM sync_queue WHERE (id = ? OR op_id = ?)`,
      // failedReasons: distinct reasons of dead letters, most common first. Params: limit. Returns: Reason[].
      failedReasons: `
        SELECT error_code AS code, coalesce(error_message, '(no reason recorded)') AS message, count(*) AS count
        FROM sync_queue INDEXED BY idx_sync_queue_status WHERE status IN ('failed', 'conflict') AND status = 'failed'
        GROUP BY error_code, error_message ORDER BY count DESC LIMIT ?`,
      // heldCount: pending operations waiting for a retry time after now. Params: now (ms). Returns: {n, next}.
      heldCount: `
        SELECT count(*) AS n, min(next_attempt_at) AS next FROM sync_queue INDEXED BY idx_sync_queue_held
        WHERE status = 'pending' AND next_attempt_at > ?`,
      // heldReasons: why they wait. Params: now (ms), limit. Returns: Reason[].
      heldReasons: `
        SELECT error_code AS code, coalesce(error_message, '(no reason recorded)') AS message, count(*) AS count
        FROM sync_queue INDEXED BY idx_sync_queue_held WHERE status = 'pending' AND next_attempt_at > ?
        GROUP BY error_code, error_message ORDER BY count DESC LIMIT ?`,
      // failedOne: one dead letter. Params: id. Returns: {id, buckets} or undefined.
      failedOne: `SELECT id, buckets FROM sync_queue WHERE id = ? AND status = 'failed'`,
      // failedIds: every dead letter, for retry --all. Returns: [{id, buckets}].
      failedIds: `SELECT id, buckets FROM sync_queue INDEXED BY idx_sync_queue_status WHERE status IN ('failed', 'conflict') AND status = 'failed'`,
      // requeue: failed or conflict → pending with a fresh retry budget. Params: force, id.
      requeue: `
        UPDATE sync_queue SET status = 'pending', retry_count = 0, next_attempt_at = NULL, error_message = NULL, error_code = NULL,
               failed_at = NULL, force = ?
        WHERE id = ? AND status IN ('failed', 'conflict')`,
      // discard: failed → discarded, with who and when. Params: at, by, id.
      discard: `UPDATE sync_queue SET status = 'discarded', discarded_at = ?, discarded_by = ? WHERE id = ? AND status = 'failed'`,
      // conflicts: rows for review. Params: limit.
      conflicts: `
        SELECT id, op_id, table_name, record_id, operation, record_data, remote_data, changed_at
        FROM sync_queue INDEXED BY idx_sync_queue_status WHERE status IN ('failed', 'conflict') AND status = 'conflict' ORDER BY id LIMIT ?`,
      conflictById: `
        SELECT id, op_id, table_name, record_id, operation, record_data, remote_data, changed_at, status, buckets, result, force
        FROM sync_queue WHERE id = ? OR op_id = ?`,
      // keepRemote: a person settled a conflict for the remote version. Params: synced_at, id.
      keepRemote: `
        UPDATE sync_queue SET status = 'synced', result = 'kept_remote', synced_at = ?, error_message = NULL
        WHERE id = ? AND status = 'conflict'`,
    });
  }

  failed(limit = 50): FailedRow[] {
    return this.stmts.failed.all(limit) as FailedRow[];
  }

  discarded(limit = 50): FailedRow[] {
    return this.stmts.discarded.all(limit) as FailedRow[];
  }

  /** A failed or discarded operation by outbox id or op_id. */
  find(idOrOpId: string): FailedDetail | undefined {
    const n = /^\d+$/.test(idOrOpId) ? Number(idOrOpId) : -1;
    const row = this.stmts.one.get(n, idOrOpId) as (FailedDetail & { status: string }) | undefined;
    return row && (row.status === 'failed' || row.status === 'discarded') ? row : undefined;
  }

  failedReasons(limit = 5): Reason[] {
    return alike(this.stmts.failedReasons.all(GROUPS) as Reason[], limit);
  }

  /** Pending operations waiting out a retry delay, and why. */
  held(nowMs: number, limit = 5): Held {
    const c = this.stmts.heldCount.get(nowMs) as { n: number; next: number | null };
    return {
      waiting: c.n,
      next_attempt_at: c.next === null ? null : new Date(c.next).toISOString(),
      reasons: c.n ? alike(this.stmts.heldReasons.all(nowMs, GROUPS) as Reason[], limit) : [],
    };
  }

  /** Moves dead letters back to pending with a fresh retry budget. Returns the ids moved. */
  retry(ids: readonly number[] | 'all'): number[] {
    return this.db.transaction(() => {
      const rows = ids === 'all'
        ? (this.stmts.failedIds.all() as { id: number; buckets: string }[])
        : ids.map((id) => this.stmts.failedOne.get(id) as { id: number; buckets: string } | undefined)
          .filter((r): r is { id: number; buckets: string } => r !== undefined);
      const deltas = new Map<string, number>();
      for (const r of rows) {
        this.stmts.requeue.run(0, r.id);
        addBuckets(deltas, r.buckets, 1);
      }
      this.outbox.applyDeltas(deltas);
      return rows.map((r) => r.id);
    }).immediate();
  }

  /** Discards dead letters: they stay in the outbox as 'discarded', with who and when. */
  discard(ids: readonly number[], by: string, nowIso: string): number[] {
    return this.db.transaction(() => ids.filter((id) => this.stmts.discard.run(nowIso, by, id).changes > 0)).immediate();
  }

  conflicts(limit = 100): ConflictRow[] {
    return this.stmts.conflicts.all(limit) as ConflictRow[];
  }

  findConflict(idOrOpId: string): (ConflictRow & { status: string; buckets: string; result: string | null; force: number }) | undefined {
    const n = /^\d+$/.test(idOrOpId) ? Number(idOrOpId) : -1;
    return this.stmts.conflictById.get(n, idOrOpId) as (ConflictRow & { status: string; buckets: string; result: string | null; force: number }) | undefined;
  }

  /** Moves one conflict back to pending (forced: it goes up over the newer remote version). */
  requeueConflict(id: number, buckets: string, force: boolean): boolean {
    return this.db.transaction(() => {
      const moved = this.stmts.requeue.run(force ? 1 : 0, id).changes > 0;
      if (moved) {
        const m = new Map<string, number>();
        addBuckets(m, buckets, 1);
        this.outbox.applyDeltas(m);
      }
      return moved;
    }).immediate();
  }

  /** Settles a conflict in favour of the remote version (it was never pending, so no counters). */
  keepRemote(id: number, nowIso: string): boolean {
    return this.stmts.keepRemote.run(nowIso, id).changes > 0;
  }
}
