/**
 * What the daemon does with one sync job: whether it runs at all (sync.enabled, pause, offline),
 * how its outcome moves the connection state, and what a person sees of it (activity, log).
 *
 * - Routine triggers are skipped while paused, and remembered: resuming runs them at once.
 * - Offline, only a person's request tries the remote; everything else waits for the drain that
 *   follows the probe. A simulated outage (`test offline`) skips syncs without counting them as
 *   failures, so the probe is not pushed back.
 * - A retryable remote failure counts once toward going offline. A crashed worker thread is a
 *   local failure: the job is retried, and the remote is not judged unreachable for it.
 */
import { RemoteUnavailableError, WorkerCrashError, isRetryable, messageOf } from '../errors.ts';
import { emptyResult } from '../workers/sync-run.ts';
import type { Clock } from '../clock.ts';
import type { Settings } from '../config/load.ts';
import type { Local } from '../local.ts';
import type { Logger } from '../log.ts';
import type { SyncMetrics } from '../monitor/prometheus.ts';
import type { SyncWorkerHost } from '../workers/host.ts';
import type { SyncProgress } from '../workers/sync-run.ts';
import type { ConnectionMonitor } from './connection.ts';
import type { SyncJobPayload, SyncResult, TriggerType } from '../types.ts';

/** Triggers a person asked for: they run even when paused or offline. */
export const USER_TRIGGERS: ReadonlySet<TriggerType> = new Set(['manual', 'drain', 'online', 'retry']);

export function skipped(trigger: TriggerType, reason: string): SyncResult {
  return { ...emptyResult(trigger), skipped: reason };
}

export interface JobPolicyDeps {
  settings: Settings;
  local: Local;
  clock: Clock;
  log: Logger;
  worker: SyncWorkerHost;
  conn: ConnectionMonitor;
  prom: SyncMetrics;
  onProgress: (p: SyncProgress) => void;
  /** After every job: the next periodic sync is recomputed. */
  afterJob(): void;
}

export type Activity = 'idle' | 'syncing' | 'backing_off';

export class JobPolicy {
  private readonly d: JobPolicyDeps;
  /** Routine triggers skipped while paused, run when the pause ends. */
  private readonly held = new Map<TriggerType, string>();

  constructor(deps: JobPolicyDeps) {
    this.d = deps;
  }

  setActivity(kind: Activity, extra: Partial<SyncProgress> & { reason?: string; next_retry_at?: string } = {}): void {
    this.d.local.state.set('activity', { kind, at: new Date(this.d.clock.now()).toISOString(), ...extra });
  }

  /** The triggers held by a pause, taken (the caller enqueues them). */
  takeHeld(): [TriggerType, string][] {
    const out = [...this.held];
    this.held.clear();
    return out;
  }

  /** Runs one sync job, or skips it. Throws only to have the job runner retry it. */
  async handle(payload: SyncJobPayload, signal: AbortSignal): Promise<SyncResult> {
    const { settings, local, conn } = this.d;
    const user = USER_TRIGGERS.has(payload.trigger);
    if (!user && !settings.sync.enabled) return skipped(payload.trigger, 'sync.enabled is false');
    if (!user && local.state.get('paused')?.paused) {
      this.held.set(payload.trigger, payload.reason);
      return skipped(payload.trigger, 'automatic syncs are paused (the trigger runs when they resume)');
    }
    if (conn.simulatedOffline) return skipped(payload.trigger, 'offline (simulated)');
    if (conn.offline && !user) return skipped(payload.trigger, `offline: ${conn.state.reason ?? 'remote unreachable'}`);
    this.setActivity('syncing', { trigger: payload.trigger });
    try {
      return this.succeeded(payload, await this.d.worker.run(payload, signal, this.d.onProgress));
    } catch (err) {
      return this.failed(payload, err, user);
    } finally {
      this.d.afterJob();
    }
  }

  private succeeded(payload: SyncJobPayload, result: SyncResult): SyncResult {
    this.d.prom.observe(result);
    this.d.conn.success();
    this.d.conn.syncCompleted();
    this.d.log.info({ trigger: payload.trigger, status: result.status, operations: result.operations_synced, failed: result.operations_failed, ms: result.duration_ms }, 'sync finished');
    this.setActivity('idle');
    return result;
  }

  private failed(payload: SyncJobPayload, err: unknown, user: boolean): SyncResult {
    const { conn, log } = this.d;
    const msg = messageOf(err);
    const failedResult = { ...skipped(payload.trigger, msg), status: 'failed' as const, error: msg };
    if (WorkerCrashError.is(err)) {
      log.error({ trigger: payload.trigger, err: msg }, 'sync worker crashed; the job will be retried on a fresh thread');
      this.setActivity('backing_off', { reason: msg });
      if (user) return failedResult;
      throw err;
    }
    if (!isRetryable(err)) {
      log.error({ trigger: payload.trigger, err: msg }, 'sync failed permanently; not retrying');
      this.setActivity('idle', { reason: msg });
      return failedResult;
    }
    conn.failure(err);
    if (user || conn.offline) {
      // A person waits for the answer, or the probe loop takes over: no failing jobs pile up.
      this.setActivity('backing_off', { reason: msg, next_retry_at: conn.state.next_probe_at });
      if (conn.offline) log.warn({ trigger: payload.trigger, err: msg, next_probe_at: conn.state.next_probe_at }, 'remote unreachable; offline');
      return failedResult;
    }
    this.setActivity('backing_off', { reason: msg });
    log.warn({ trigger: payload.trigger, err: msg }, 'sync failed; the job will be retried with backoff');
    throw err instanceof Error ? err : new RemoteUnavailableError(msg);
  }
}
