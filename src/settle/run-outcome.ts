/**
 * Stage 6, settle, for a whole run: its result object from start to finish, and how it is
 * recorded (the metrics row, last_sync, last_success). The run itself is ../workers/sync-run.ts.
 */
import { messageOf } from '../errors.ts';
import { unpackagedBytes } from '../package/index.ts';
import type { PendingRow } from '../store/outbox.ts';
import type { SyncJobPayload, SyncResult } from '../types.ts';
import type { SyncContext } from '../workers/sync-context.ts';

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

export function countIn(result: SyncResult, rows: readonly PendingRow[]): void {
  result.operations_in += rows.length;
  for (const r of rows) result.bytes_in += unpackagedBytes(r);
}

/** Sets the status, says what is still held back, records the sync, and throws a failure. */
export function finish(ctx: SyncContext, result: SyncResult, started: number, failure: unknown): SyncResult {
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
      // A run that found nothing to do (the follow-up after a drain, an idle tick) is not "the
      // last sync" a person asks about: the one that moved or refused something stays shown.
      const idle = result.status !== 'failed' && result.operations_synced === 0 && !result.operations_failed && !result.operations_conflict && !result.error;
      if (!idle || !ctx.state.get('last_sync')) ctx.state.set('last_sync', {
        at: at.toISOString(),
        trigger: result.trigger,
        operations: result.operations_synced,
        duration_ms: result.duration_ms,
        success: result.status !== 'failed',
        ...(result.error ? { error: result.error } : {}),
        ...(result.operations_failed ? { failed: result.operations_failed } : {}),
        ...(result.operations_conflict ? { conflicts: result.operations_conflict } : {}),
      }, at);
      if (result.status !== 'failed') ctx.state.set('last_success', { at: at.toISOString() }, at);
    })();
  } catch (err) {
    // Losing a metrics row must not turn a completed upload into a failed job.
    result.error = result.error ?? `metrics not recorded: ${messageOf(err)}`;
  }
}
