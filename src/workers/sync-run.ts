/**
 * One sync: select → package → upload → settle, page after page, until nothing eligible is pending
 * or the job's limits are reached. This is what a sync job runs inside the worker thread (and what
 * `ccm-sync sync now` runs in-process when no daemon is up).
 *
 * Order: each page is read in upload order (urgent, high, normal, low, then oldest). After every
 * batch, if an urgent operation has arrived that the current page does not hold, the rest of the
 * page is dropped (it stays pending) and the next page is read, so urgent work never waits behind
 * a long drain.
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
import { packagePage } from '../package/index.ts';
import { settleLocally, settleResults } from '../settle.ts';
import type { Clock } from '../clock.ts';
import type { Db } from '../store/db.ts';
import type { MetricsStore } from '../store/metrics.ts';
import type { Outbox } from '../store/outbox.ts';
import type { StateStore } from '../store/state.ts';
import type { Transport } from '../remote/transport.ts';
import type { Batch, SyncJobPayload, SyncResult } from '../types.ts';

export interface SyncRunOptions {
  systemId: string;
  maxOpsPerRequest: number;
  maxBytesPerRequest: number;
  pageSize: number;
  manualTables: readonly string[];
  operationMaxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  selective: { backlog_operations: number; first_tables: readonly string[]; hook_events: 'summarise' | 'skip' };
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
  metrics: MetricsStore;
  state: StateStore;
  transport: Transport;
  clock: Clock;
  options: SyncRunOptions;
  signal?: AbortSignal;
  onProgress?: (p: SyncProgress) => void;
}

function emptyResult(trigger: SyncJobPayload['trigger']): SyncResult {
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

export async function runSync(ctx: SyncContext, job: SyncJobPayload): Promise<SyncResult> {
  const { outbox, clock, options: o } = ctx;
  const started = clock.now();
  const result = emptyResult(job.trigger);
  const maxOps = job.limits?.maxOperations ?? Number.POSITIVE_INFINITY;
  const batchSize = job.limits?.batchSize ?? o.maxOpsPerRequest;
  const total = Math.min(outbox.pendingTotal(), maxOps);
  const manualTables = new Set(o.manualTables);
  const selectiveRun = job.limits?.selective === true || total >= o.selective.backlog_operations;
  let selective = selectiveRun;
  let failure: unknown;

  try {
    for (;;) {
      ctx.signal?.throwIfAborted();
      const limit = Math.min(o.pageSize, maxOps - result.operations_in);
      if (limit <= 0) break;
      let rows = outbox.page(clock.now(), limit, selective ? o.selective.first_tables : job.limits?.tables);
      if (rows.length === 0 && selective) {
        selective = false;
        rows = outbox.page(clock.now(), limit, job.limits?.tables);
      }
      if (rows.length === 0) break;
      const nowIso = new Date(clock.now()).toISOString();
      const page = packagePage(rows, { db: ctx.db, nowIso, manualTables }, {
        maxOps: batchSize,
        maxBytes: o.maxBytesPerRequest,
        skipHookEvents: selectiveRun && o.selective.hook_events === 'skip',
      });
      const oversized = page.oversized.map(({ item, bytes }) => ({
        sources: item.sources,
        error: `record is ${bytes} bytes, over the ${o.maxBytesPerRequest}-byte request cap (sync.max_bytes_per_request); it was not uploaded. Shrink it or raise the cap, then \`ccm-sync sync retry-failed\``,
      }));
      settleLocally(outbox, page.settled, oversized, clock.now());
      for (const s of page.settled) result.operations_synced += s.sources.length;
      for (const f of oversized) result.operations_failed += f.sources.length;
      result.operations_in += rows.length;
      result.bytes_in += page.bytesIn;

      let urgentLeft = rows.filter((r) => r.priority === 'urgent').length;
      for (const batch of page.batches) {
        ctx.signal?.throwIfAborted();
        const body: Batch = {
          system_id: o.systemId,
          sync_timestamp: new Date(clock.now()).toISOString(),
          operations: batch.items.map((i) => i.op),
        };
        const answers = await ctx.transport.upload(body, ctx.signal);
        const c = settleResults(outbox, batch.items, answers, {
          nowMs: clock.now(),
          maxAttempts: o.operationMaxAttempts,
          baseDelayMs: o.retryBaseMs,
          maxDelayMs: o.retryMaxMs,
        });
        result.batches++;
        result.bytes_sent += batch.bytes;
        result.operations_out += batch.items.length;
        result.operations_synced += c.synced;
        result.operations_stale += c.stale;
        result.operations_conflict += c.conflict;
        result.operations_failed += c.failed;
        result.operations_pending_retry += c.retry;
        for (const item of batch.items) urgentLeft -= item.sources.filter((r) => r.priority === 'urgent').length;
        ctx.onProgress?.({ trigger: job.trigger, done: result.operations_in, total: Math.max(total, result.operations_in), batches: result.batches });
        // An urgent operation arrived that this page does not carry: read a fresh page now.
        if (urgentLeft <= 0 && (outbox.counts().urgent ?? 0) > 0) break;
      }
    }
  } catch (err) {
    failure = err;
  }

  result.duration_ms = clock.now() - started;
  if (failure !== undefined) {
    result.status = 'failed';
    result.error = messageOf(failure);
  } else if (result.operations_in > 0) {
    result.status = result.operations_failed + result.operations_pending_retry + result.operations_conflict > 0 ? 'partial' : 'synced';
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
      }, at);
      if (result.status !== 'failed') ctx.state.set('last_success', { at: at.toISOString() }, at);
    })();
  } catch (err) {
    // Losing a metrics row must not turn a completed upload into a failed job.
    result.error = result.error ?? `metrics not recorded: ${messageOf(err)}`;
  }
}
