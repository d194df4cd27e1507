/**
 * One sync: select → package → upload → settle, page after page, until nothing eligible is pending
 * or the job's limits are reached. This is what a sync job runs inside the worker thread (and what
 * `ccm-sync sync now` runs in-process when no daemon is up).
 *
 * Order: each page is read in upload order (urgent, high, normal, low, then oldest), and batches go
 * up one at a time in that order. The local work of the next step (settling the last answer,
 * reading and packaging the next page) runs while a batch is on the wire. After every answer, if
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
import { messageOf } from '../errors.ts';
import { unpackagedBytes, type PackagedBatch } from '../package/index.ts';
import { settleLocally, settleResults } from '../settle.ts';
import { packageIsolating } from './page.ts';
import { uploader, type Envelope } from './upload.ts';
import type { Clock } from '../clock.ts';
import type { Db } from '../store/db.ts';
import type { MetricsStore } from '../store/metrics.ts';
import type { Outbox, PendingRow } from '../store/outbox.ts';
import type { Review } from '../store/review.ts';
import type { StateStore } from '../store/state.ts';
import type { Transport } from '../remote/transport.ts';
import type { Heartbeat, RemoteResult, SyncJobPayload, SyncResult } from '../types.ts';

export interface SyncRunOptions {
  systemId: string;
  maxOpsPerRequest: number;
  maxBytesPerRequest: number;
  pageSize: number;
  manualTables: readonly string[];
  /** hooks.upload: extras of a task summary beyond the counts (e.g. prompts). */
  hookUploads?: readonly string[];
  operationMaxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  retryJitter: number;
  selective: { backlog_operations: number; first_tables: readonly string[]; hook_events: 'summarise' | 'skip' };
  /** Ask the remote to prune the ledger at most this often (undefined: never). */
  pruneLedgerEveryMs?: number;
}

export interface SyncProgress {
  trigger: string;
  done: number;
  total: number;
  batches: number;
}

export interface SyncContext {
  db: Db;
  outbox: Outbox;
  review: Review;
  metrics: MetricsStore;
  state: StateStore;
  transport: Transport;
  clock: Clock;
  options: SyncRunOptions;
  signal?: AbortSignal;
  onProgress?: (p: SyncProgress) => void;
  /** What this system says about itself with the first batch of the run. */
  heartbeat?: () => Heartbeat;
}

export function emptyResult(trigger: SyncJobPayload['trigger']): SyncResult {
  return {
    status: 'nothing_to_sync',
    trigger,
    operations_synced: 0,
    operations_failed: 0,
    operations_stale: 0,
    operations_conflict: 0,
    operations_pending_retry: 0,
    batches: 0,
    bytes_sent: 0,
    operations_in: 0,
    bytes_in: 0,
    operations_out: 0,
    duration_ms: 0,
  };
}

/** A packaged batch waiting for its upload, with what its source rows stand for. */
interface Claim {
  batch: PackagedBatch;
  rows: PendingRow[];
}

/**
 * The drain loop: uploads batches one at a time, and does the local work of the next step while an
 * upload is on the wire. While batch N is uploading, the answer to batch N-1 is settled and the
 * next page is read and packaged, so a drain runs at the speed of the remote rather than of the
 * remote plus SQLite. Rows of a batch that is packaged or uploading are claimed: the next page
 * skips them. Nothing is marked synced before its own batch is answered.
 */
export async function runSync(ctx: SyncContext, job: SyncJobPayload): Promise<SyncResult> {
  const { outbox, clock, options: o } = ctx;
  const started = clock.now();
  const result = emptyResult(job.trigger);
  const maxOps = job.limits?.maxOperations ?? Number.POSITIVE_INFINITY;
  const batchSize = job.limits?.batchSize ?? o.maxOpsPerRequest;
  const total = Math.min(outbox.pendingTotal(), maxOps);
  const manualTables = new Set(o.manualTables);
  const hookUploads = new Set(o.hookUploads ?? []);
  const selectiveRun = job.limits?.selective === true || total >= o.selective.backlog_operations;
  const up = uploader(ctx.transport, o.systemId, clock);
  let selective = selectiveRun;
  const ready: Claim[] = [];
  const claimed = new Set<number>();
  let urgentSeen = 0;
  let answered: { claim: Claim; answers: RemoteResult[] } | undefined;
  let failure: unknown;

  const claim = (rows: PendingRow[], sign: 1 | -1) => {
    for (const r of rows) {
      if (sign > 0) claimed.add(r.id);
      else claimed.delete(r.id);
    }
  };
  const readPage = (limit: number, onlyTables: readonly string[] | undefined) =>
    outbox.page(clock.now(), limit, { exclude: [...claimed], onlyTables, maxBytes: 4 * o.maxBytesPerRequest });

  /** Reads and packages the next page into `ready`. False when nothing eligible is left. */
  const prepare = (): boolean => {
    const limit = Math.min(o.pageSize, maxOps - result.operations_in - claimed.size);
    if (limit <= 0) return false;
    urgentSeen = urgentRecorded(outbox);
    let rows = readPage(limit, selective ? o.selective.first_tables : job.limits?.tables);
    if (rows.length === 0 && selective) {
      selective = false;
      rows = readPage(limit, job.limits?.tables);
    }
    if (rows.length === 0) return false;
    const { page, poisoned } = packageIsolating(rows, { db: ctx.db, nowIso: new Date(clock.now()).toISOString(), manualTables, hookUploads }, {
      maxOps: batchSize,
      maxBytes: o.maxBytesPerRequest,
      skipHookEvents: selectiveRun && o.selective.hook_events === 'skip',
    });
    const failed = [
      ...page.oversized.map(({ item, bytes }) => ({
        sources: item.sources,
        code: 'CCM03',
        error: `record is ${bytes} bytes, over the ${o.maxBytesPerRequest}-byte request cap (sync.max_bytes_per_request); it was not uploaded. Shrink it or raise the cap, then \`ccm-sync failed retry\``,
      })),
      ...poisoned.map((p) => ({ sources: [p.row], code: 'CCM04', error: `packaging this operation failed locally: ${p.error}; it was not uploaded. See \`ccm-sync failed show ${p.row.id}\`` })),
    ];
    settleLocally(outbox, page.settled, failed, clock.now());
    for (const s of [...page.settled, ...failed]) {
      countIn(result, s.sources);
      if ('result' in s) result.operations_synced += s.sources.length;
      else result.operations_failed += s.sources.length;
    }
    for (const batch of page.batches) {
      const rows = batch.items.flatMap((i) => i.sources);
      claim(rows, 1);
      ready.push({ batch, rows });
    }
    return true;
  };

  /** Writes the answer to one batch back to the outbox and releases its rows. */
  const settleAnswered = () => {
    if (!answered) return;
    const { claim: done, answers } = answered;
    answered = undefined;
    const c = settleResults(outbox, done.batch.items, answers, {
      nowMs: clock.now(),
      maxAttempts: o.operationMaxAttempts,
      baseDelayMs: o.retryBaseMs,
      maxDelayMs: o.retryMaxMs,
      jitter: o.retryJitter,
    });
    // The remote refused operations below its watermark: this database is an older copy. New
    // operations must be numbered above it, or the remote would refuse them too.
    if (c.watermark !== undefined) outbox.advanceSequence(c.watermark);
    claim(done.rows, -1);
    countIn(result, done.rows);
    result.batches++;
    result.bytes_sent += done.batch.bytes;
    result.operations_out += done.batch.items.length;
    result.operations_synced += c.synced;
    result.operations_stale += c.stale;
    result.operations_conflict += c.conflict;
    result.operations_failed += c.failed;
    result.operations_pending_retry += c.retry;
    ctx.onProgress?.({ trigger: job.trigger, done: result.operations_in, total: Math.max(total, result.operations_in), batches: result.batches });
  };

  /**
   * What goes with the next batch: the watermark, a prune request when due, and the heartbeat
   * (every batch: the fleet view then follows a long drain), its backlog net of this batch.
   */
  const envelope = (inFlight: number): Envelope => {
    const env: Envelope = { settled_through: outbox.settledThrough() };
    const every = o.pruneLedgerEveryMs;
    const last = ctx.state.get('ledger_pruned')?.at;
    if (every !== undefined && (!last || clock.now() - Date.parse(last) >= every)) {
      env.prune_ledger = true;
      ctx.state.set('ledger_pruned', { at: new Date(clock.now()).toISOString(), through: env.settled_through! });
    }
    if (ctx.heartbeat) {
      const hb = ctx.heartbeat();
      env.heartbeat = { ...hb, backlog: Math.max(0, hb.backlog - inFlight) };
    }
    return env;
  };

  try {
    for (;;) {
      ctx.signal?.throwIfAborted();
      // An urgent operation was recorded since the packaged batches were read: drop them (they
      // stay pending) so that the next page puts the urgent one first.
      if (ready.length > 0 && urgentRecorded(outbox) > urgentSeen) {
        for (const r of ready.splice(0)) claim(r.rows, -1);
      }
      if (ready.length === 0) {
        settleAnswered();
        if (!prepareUntilBatch(prepare, ready)) break;
      }
      const next = ready.shift()!;
      const upload = up.upload(next.batch.items.map((i) => i.op), envelope(next.rows.length), ctx.signal);
      upload.catch(() => undefined); // awaited below, after the local work
      await new Promise((resolve) => setImmediate(resolve)); // let the request go out first
      let localFailure: unknown;
      try {
        settleAnswered();
        if (ready.length === 0) prepareUntilBatch(prepare, ready);
      } catch (err) {
        localFailure = err; // still take the answer of the batch on the wire, and settle it
      }
      answered = { claim: next, answers: await upload };
      if (localFailure !== undefined) throw localFailure;
    }
  } catch (err) {
    failure = err;
  }
  try {
    settleAnswered();
  } catch (err) {
    failure ??= err;
  }
  // Operations were dead-lettered after the last heartbeat went up: say so now, in an empty
  // batch, so the fleet view shows this system failing without waiting for its next sync.
  if (failure === undefined && result.operations_failed > 0 && ctx.heartbeat) {
    await up.upload([], envelope(0), ctx.signal).catch(() => undefined);
  }
  return finish(ctx, result, started, failure);
}

/** Operations ever recorded that go up first: urgent ones, and critical and security alerts. */
function urgentRecorded(outbox: Outbox): number {
  const r = outbox.activity().recorded;
  return (r.urgent ?? 0) + (r.critical ?? 0) + (r.security ?? 0);
}

/** Prepares pages until one yields a batch to upload (a page may settle entirely locally). */
function prepareUntilBatch(prepare: () => boolean, ready: readonly Claim[]): boolean {
  while (ready.length === 0) if (!prepare()) return false;
  return true;
}

function countIn(result: SyncResult, rows: readonly PendingRow[]): void {
  result.operations_in += rows.length;
  for (const r of rows) result.bytes_in += unpackagedBytes(r);
}

/** Sets the status, says what is still held back, records the sync, and throws a failure. */
function finish(ctx: SyncContext, result: SyncResult, started: number, failure: unknown): SyncResult {
  result.duration_ms = ctx.clock.now() - started;
  if (failure !== undefined) {
    result.status = 'failed';
    result.error = messageOf(failure);
  } else if (result.operations_in > 0) {
    result.status = result.operations_failed + result.operations_pending_retry + result.operations_conflict > 0 ? 'partial' : 'synced';
  }
  try {
    const held = ctx.review.held(ctx.clock.now());
    const back = ctx.outbox.heldBack();
    result.held = {
      pending: ctx.outbox.pendingTotal(),
      waiting: held.waiting,
      next_attempt_at: held.next_attempt_at,
      waiting_reasons: held.reasons,
      failed: back.failed,
      failed_reasons: back.failed ? ctx.review.failedReasons() : [],
      conflicts: back.conflict,
    };
  } catch {
    // What is held back is reported by status too; a read failing here must not fail the sync.
  }
  recordOutcome(ctx, result);
  if (failure !== undefined) throw failure;
  return result;
}

function recordOutcome(ctx: SyncContext, result: SyncResult): void {
  const at = new Date(ctx.clock.now());
  try {
    ctx.db.transaction(() => {
      ctx.metrics.record(result, at);
      ctx.state.set('last_sync', {
        at: at.toISOString(),
        trigger: result.trigger,
        operations: result.operations_synced,
        duration_ms: result.duration_ms,
        success: result.status !== 'failed',
        ...(result.error ? { error: result.error } : {}),
        ...(result.operations_failed ? { failed: result.operations_failed } : {}),
      }, at);
      if (result.status !== 'failed') ctx.state.set('last_success', { at: at.toISOString() }, at);
    })();
  } catch (err) {
    // Losing a metrics row must not turn a completed upload into a failed job.
    result.error = result.error ?? `metrics not recorded: ${messageOf(err)}`;
  }
}
