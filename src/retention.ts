/**
 * Retention: the local history does not grow without bound. Synced operations leave the outbox
 * `retention.synced_days` after they synced; the hook events of a task leave `hook_events` once
 * the task has been idle for `retention.hook_events_days` and its summary is synced (a task still
 * going on keeps every event, or its next summary would undercount); sync metrics leave after
 * `monitoring.metrics_retention_days`. The usage read from transcripts goes with its session's last
 * hook events.
 *
 * Everything goes in chunks of `CHUNK` rows, one short transaction each, yielding between chunks,
 * so enqueuers and syncs never wait long behind it. The daemon runs it in the sync worker thread,
 * never on its event loop. Failed, conflict and discarded operations are kept: they are what a
 * person still has to look at.
 */
import type { Settings } from './config/load.ts';
import type { Local } from './local.ts';

const CHUNK = 5000;

export interface PruneResult {
  operations: number;
  hook_events: number;
  transcript_usage: number;
  metrics: number;
}

const breathe = () => new Promise((resolve) => setImmediate(resolve));

export async function pruneHistory(local: Local, settings: Pick<Settings, 'retention' | 'monitoring'>, signal?: AbortSignal): Promise<PruneResult> {
  const now = local.clock.now();
  const days = (d: number) => new Date(now - d * 86_400_000).toISOString();
  const out: PruneResult = { operations: 0, hook_events: 0, transcript_usage: 0, metrics: 0 };
  for (;;) {
    signal?.throwIfAborted();
    const n = local.outbox.pruneSynced(days(settings.retention.synced_days), CHUNK);
    out.operations += n;
    if (n < CHUNK) break;
    await breathe();
  }
  out.hook_events = await local.hookEvents.pruneIdleTasks(days(settings.retention.hook_events_days), CHUNK, breathe, signal);
  out.transcript_usage = await local.usage.prune(days(settings.retention.hook_events_days), CHUNK, breathe);
  out.metrics = local.metrics.prune(days(settings.monitoring.metrics_retention_days));
  return out;
}
