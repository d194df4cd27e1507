/**
 * One sync: select → package → upload → settle, page after page, until nothing eligible is pending
 * or the job's limits are reached. This is what a sync job runs inside the worker thread (and what
 * `ccm-sync sync now` runs in-process when no daemon is up).
 *
 * Order: each page is read in upload order (urgent, high, normal, low, then oldest), and batches go
 * up one at a time in that order. The local work of the next step (settling answers, reading and
 * packaging the next page) runs while a batch is on the wire. Answers are settled together, in one
 * local transaction, once they hold 200 operations or are 50 ms old: each local
 * commit waits for the disk, and with batches of 50 one commit each was nearly a third of a drain's
 * time on the bench machine.
 * Until then their rows stay claimed (no page reads them again), and a crash before the settle
 * only uploads them again, answered `duplicate` by the remote's ledger. After every answer, if
 * an urgent operation was recorded since the packaged batches were read, they are dropped (their
 * rows stay pending) and the next page is read, so urgent work waits for at most the batch
 * already uploading. An urgent operation waiting out a retry delay does not count: it is not new.
 *
 * Memory: a page is bounded by rows (`page_size`) and by the bytes of record_data it loads (four
 * requests' worth); hook events are packaged from the local table, so their payloads are never
 * loaded here at all.
 *
 * Selective sync: with a backlog of `selective.backlog_operations` or more, or when the job says so
 * (the drain after `selective.offline_seconds` offline), pages first hold only
 * urgent operations and `selective.first_tables`; hook events are summarised or skipped as
 * configured; the rest follows in the same run.
 *
 * Failure: a retryable upload error stops the run and is rethrown (the job retries with backoff);
 * batches settled before it stay settled. The metrics row and last_sync are written either way.
 */
import { type PackagedBatch } from '../package/index.ts';
import { settleLocally, settleResults, type SettleCounts } from '../settle/settle.ts';
import { packageIsolating } from '../package/page.ts';
import { countIn, emptyResult, finish } from '../settle/run-outcome.ts';
import { uploader, type Envelope } from '../remote/upload.ts';
import { installationOf } from '../remote/identity.ts';
import type { Outbox, PendingRow } from '../store/outbox.ts';
import type { SyncContext, SyncRunOptions } from './sync-context.ts';
import type { RemoteResult, SyncJobPayload, SyncResult } from '../types.ts';

export type { SyncContext, SyncProgress, SyncRunOptions } from './sync-context.ts';

/** A packaged batch waiting for its upload, with what its source rows stand for. */
interface Claim {
  batch: PackagedBatch;
  rows: PendingRow[];
}

/** How many answered operations, or how long, answers may wait to be settled (see the header). */
const SETTLE_EVERY_OPS = 200;
const SETTLE_WITHIN_MS = 50;

/**
 * The drain loop: uploads batches one at a time, and does the local work of the next step while an
 * upload is on the wire. While batch N is uploading, the answers to earlier batches are settled
 * (when enough of them wait, see the header) and the next page is read and packaged, so a drain
 * runs at the speed of the remote rather than of the remote plus SQLite. Rows of a batch that is
 * packaged, uploading or answered but not settled are claimed: the next page skips them. Nothing
 * is marked synced before its own batch is answered.
 */
export async function runSync(ctx: SyncContext, job: SyncJobPayload): Promise<SyncResult> {
  return new SyncRun(ctx, job).run();
}

/** The state of one run of runSync: what is claimed, packaged, on the wire and answered. */
class SyncRun {
  private readonly ctx: SyncContext;
  private readonly job: SyncJobPayload;
  private readonly o: SyncRunOptions;
  private readonly started: number;
  private readonly result: SyncResult;
  private readonly maxOps: number;
  private readonly batchSize: number;
  private readonly total: number;
  private readonly manualTables: ReadonlySet<string>;
  private readonly hookUploads: ReadonlySet<string>;
  private readonly selectiveRun: boolean;
  private readonly up: ReturnType<typeof uploader>;
  private selective: boolean;
  private readonly ready: Claim[] = [];
  private readonly claimed = new Set<number>();
  private urgentSeen = 0;
  /** Answered batches not settled yet, and when the oldest of them was answered. */
  private readonly answered: { claim: Claim; answers: RemoteResult[] }[] = [];
  private answeredOps = 0;
  private answeredAt = 0;
  /** Batches answered so far, and how many of them the last progress report counted. */
  private answeredBatches = 0;
  private reportedBatches = 0;

  constructor(ctx: SyncContext, job: SyncJobPayload) {
    this.ctx = ctx;
    this.job = job;
    this.o = ctx.options;
    this.started = ctx.clock.now();
    this.result = emptyResult(job.trigger);
    this.maxOps = job.limits?.maxOperations ?? Number.POSITIVE_INFINITY;
    this.batchSize = job.limits?.batchSize ?? this.o.maxOpsPerRequest;
    this.total = Math.min(ctx.outbox.pendingTotal(), this.maxOps);
    this.manualTables = new Set(this.o.manualTables);
    this.hookUploads = new Set(this.o.hookUploads ?? []);
    this.selectiveRun = job.limits?.selective === true || this.total >= this.o.selective.backlog_operations;
    this.selective = this.selectiveRun;
    this.up = uploader(ctx.transport, this.o.systemId, ctx.clock, installationOf(ctx.state, new Date(ctx.clock.now()).toISOString()));
  }

  async run(): Promise<SyncResult> {
    let failure: unknown;
    try {
      await this.loop();
    } catch (err) {
      failure = err;
    }
    try {
      this.settleAnswered();
      this.reportProgress();
    } catch (err) {
      failure ??= err;
    }
    // Operations were dead-lettered after the last heartbeat went up: say so now, in an empty
    // batch, so the fleet view shows this system failing without waiting for its next sync.
    if (failure === undefined && this.result.operations_failed > 0 && this.ctx.heartbeat) {
      await this.up.upload([], this.envelope(0), this.ctx.signal).catch(() => undefined);
    }
    return finish(this.ctx, this.result, this.started, failure);
  }

  private async loop(): Promise<void> {
    const { ctx, ready } = this;
    for (;;) {
      ctx.signal?.throwIfAborted();
      // An urgent operation was recorded since the packaged batches were read: drop them (they
      // stay pending) so that the next page puts the urgent one first.
      if (ready.length > 0 && urgentRecorded(ctx.outbox) > this.urgentSeen) {
        for (const r of ready.splice(0)) this.claim(r.rows, -1);
      }
      if (ready.length === 0 && !this.prepareUntilBatch()) return;
      const next = ready.shift()!;
      // Not backlog: this batch, and those answered but not settled yet.
      const inFlight = next.rows.length + this.answeredOps;
      const upload = this.up.upload(next.batch.items.map((i) => i.op), this.envelope(inFlight), ctx.signal);
      upload.catch(() => undefined); // awaited below, after the local work
      await new Promise((resolve) => setImmediate(resolve)); // let the request go out first
      let localFailure: unknown;
      try {
        if (this.answeredOps >= SETTLE_EVERY_OPS || ctx.clock.now() - this.answeredAt >= SETTLE_WITHIN_MS) this.settleAnswered();
        if (ready.length === 0) this.prepareUntilBatch();
        this.reportProgress();
      } catch (err) {
        localFailure = err; // still take the answer of the batch on the wire, and settle it
      }
      const answers = await upload;
      if (this.answered.length === 0) this.answeredAt = ctx.clock.now();
      this.answered.push({ claim: next, answers });
      this.answeredOps += next.rows.length;
      this.answeredBatches++;
      if (localFailure !== undefined) throw localFailure;
    }
  }

  private claim(rows: readonly PendingRow[], sign: 1 | -1): void {
    for (const r of rows) {
      if (sign > 0) this.claimed.add(r.id);
      else this.claimed.delete(r.id);
    }
  }

  private readPage(limit: number, onlyTables: readonly string[] | undefined): PendingRow[] {
    return this.ctx.outbox.page(this.ctx.clock.now(), limit, { exclude: [...this.claimed], onlyTables, maxBytes: 4 * this.o.maxBytesPerRequest });
  }

  /** Prepares pages until one yields a batch to upload (a page may settle entirely locally). */
  private prepareUntilBatch(): boolean {
    while (this.ready.length === 0) if (!this.prepare()) return false;
    return true;
  }

  /** Reads and packages the next page into `ready`. False when nothing eligible is left. */
  private prepare(): boolean {
    const { o, job } = this;
    const limit = Math.min(o.pageSize, this.maxOps - this.result.operations_in - this.claimed.size);
    if (limit <= 0) return false;
    this.urgentSeen = urgentRecorded(this.ctx.outbox);
    let rows = this.readPage(limit, this.selective ? o.selective.first_tables : job.limits?.tables);
    if (rows.length === 0 && this.selective) {
      this.selective = false;
      rows = this.readPage(limit, job.limits?.tables);
    }
    if (rows.length === 0) return false;
    this.packagePage(rows);
    return true;
  }

  /** Packages one page: what settles locally is settled now; batches are claimed and queued. */
  private packagePage(rows: PendingRow[]): void {
    const { o, ctx, result } = this;
    const { page, poisoned } = packageIsolating(rows, { db: ctx.db, nowIso: new Date(ctx.clock.now()).toISOString(), manualTables: this.manualTables, hookUploads: this.hookUploads, pathSalt: this.o.pathSalt }, {
      maxOps: this.batchSize,
      maxBytes: o.maxBytesPerRequest,
      skipHookEvents: this.selectiveRun && o.selective.hook_events === 'skip',
    });
    const failed = [
      ...page.oversized.map(({ item, bytes }) => ({
        sources: item.sources,
        code: 'CCM03',
        error: `record is ${bytes} bytes, over the ${o.maxBytesPerRequest}-byte request cap (sync.max_bytes_per_request); it was not uploaded. Shrink it or raise the cap, then \`ccm-sync failed retry\``,
      })),
      ...poisoned.map((p) => ({ sources: [p.row], code: 'CCM04', error: `packaging this operation failed locally: ${p.error}; it was not uploaded. See \`ccm-sync failed show ${p.row.id}\`` })),
    ];
    settleLocally(ctx.outbox, page.settled, failed, ctx.clock.now());
    for (const s of [...page.settled, ...failed]) {
      countIn(result, s.sources);
      if ('result' in s) result.operations_synced += s.sources.length;
      else result.operations_failed += s.sources.length;
    }
    for (const batch of page.batches) {
      const batchRows = batch.items.flatMap((i) => i.sources);
      this.claim(batchRows, 1);
      this.ready.push({ batch, rows: batchRows });
    }
  }

  /**
   * Writes the answered batches back to the outbox, in one transaction, then counts them and
   * releases their rows: if the transaction fails (a full disk), none of them is settled, counted or
   * released, and the run fails with their rows still pending for the next one.
   */
  private settleAnswered(): void {
    if (this.answered.length === 0) return;
    const { ctx, o } = this;
    const done = this.answered.splice(0);
    this.answeredOps = 0;
    const counts = ctx.db.transaction(() => done.map(({ claim, answers }) => {
      const c = settleResults(ctx.outbox, claim.batch.items, answers, { nowMs: ctx.clock.now(), retry: o.retry });
      // The remote refused operations below its watermark: this database is an older copy. New
      // operations must be numbered above it, or the remote would refuse them too.
      if (c.watermark !== undefined) ctx.outbox.advanceSequence(c.watermark);
      return c;
    })).immediate();
    done.forEach(({ claim }, i) => this.countSettled(claim, counts[i]!));
  }

  /** Tells onProgress what is answered so far (settled or about to be), once per new answer. */
  private reportProgress(): void {
    if (this.answeredBatches === this.reportedBatches) return;
    this.reportedBatches = this.answeredBatches;
    const done = this.result.operations_in + this.answeredOps;
    this.ctx.onProgress?.({ trigger: this.job.trigger, done, total: Math.max(this.total, done), batches: this.answeredBatches });
  }

  private countSettled(done: Claim, c: SettleCounts): void {
    const { result } = this;
    this.claim(done.rows, -1);
    countIn(result, done.rows);
    result.batches++;
    result.bytes_sent += done.batch.bytes;
    result.operations_out += done.batch.items.length;
    result.operations_synced += c.synced;
    result.operations_stale += c.stale;
    result.operations_conflict += c.conflict;
    result.operations_failed += c.failed;
    result.operations_pending_retry += c.retry;
  }

  /**
   * What goes with the next batch: the watermark, a prune request when due, and the heartbeat
   * (every batch: the fleet view then follows a long drain), its backlog net of this batch.
   */
  private envelope(inFlight: number): Envelope {
    const { ctx, o } = this;
    const env: Envelope = { settled_through: ctx.outbox.settledThrough() };
    const every = o.pruneLedgerEveryMs;
    const last = ctx.state.get('ledger_pruned')?.at;
    if (every !== undefined && (!last || ctx.clock.now() - Date.parse(last) >= every)) {
      env.prune_ledger = true;
      ctx.state.set('ledger_pruned', { at: new Date(ctx.clock.now()).toISOString(), through: env.settled_through! });
    }
    if (ctx.heartbeat) {
      const hb = ctx.heartbeat();
      env.heartbeat = { ...hb, backlog: Math.max(0, hb.backlog - inFlight) };
    }
    return env;
  }
}

/** Operations ever recorded that go up first: urgent ones, and critical and security alerts. */
function urgentRecorded(outbox: Outbox): number {
  const r = outbox.activity().recorded;
  return (r.urgent ?? 0) + (r.critical ?? 0) + (r.security ?? 0);
}
