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
import { OUTBOX_SQL, SUMMARY_TABLES } from './outbox-sql.ts';
import { PRIORITIES, type OutboxRow } from '../types.ts';

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
      // Synced rows go in one statement per result: most of a batch is one result.
      const synced = new Map<string, number[]>();
      for (const e of entries) {
        if (e.kind !== 'synced') continue;
        const ids = synced.get(e.result);
        if (ids) ids.push(e.row.id);
        else synced.set(e.result, [e.row.id]);
      }
      for (const [result, ids] of synced) {
        for (const m of this.stmts.markSynced.all(result, nowIso, JSON.stringify(ids)) as { buckets: string }[]) addBuckets(deltas, m.buckets, -1);
      }
      for (const e of entries) {
        let changed = 0;
        switch (e.kind) {
          case 'synced':
            continue; // above
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
