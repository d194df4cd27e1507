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
import { CredentialRefusedError, RemoteUnavailableError, WorkerCrashError, isDiskFull, isRetryable, messageOf } from '../errors.ts';
import { emptyResult } from '../workers/sync-run.ts';
import type { Settings } from '../config/load.ts';
import type { Local } from '../local.ts';
import type { Logger } from '../log.ts';
import type { SyncMetrics } from '../monitor/prometheus.ts';
import type { SyncWorkerHost } from '../workers/host.ts';
import type { SyncProgress } from '../workers/sync-run.ts';
import type { ConnectionMonitor } from './connection.ts';
import type { SyncJobPayload, SyncResult, TriggerType } from '../types.ts';

/** Triggers a person asked for, or the drain after a reconnect: they run even when paused or offline. */
export const USER_TRIGGERS: ReadonlySet<TriggerType> = new Set(['manual', 'drain', 'online', 'retry']);

/**
 * Of those, the ones a person waits on (`sync now`, the API's drain): a retryable failure is
 * answered at once instead of being retried behind their back, and a `retry` job carries the
 * work on. The others are retried by the job runner with backoff like any routine trigger, so a
 * drain after a reconnect that fails again is not left for the next periodic sync.
 */
const ANSWERED_AT_ONCE: ReadonlySet<TriggerType> = new Set(['manual', 'drain']);

export function skipped(trigger: TriggerType, reason: string): SyncResult {
  return { ...emptyResult(trigger), skipped: reason };
}

/** What the daemon's parts share: its settings, store (with its clock), log, sync thread and link state. */
export interface DaemonCore {
  settings: Settings;
  local: Local;
  log: Logger;
  worker: SyncWorkerHost;
  conn: ConnectionMonitor;
}

export interface JobPolicyDeps extends DaemonCore {
  prom: SyncMetrics;
  onProgress: (p: SyncProgress) => void;
  /** After every job: the next periodic sync is recomputed. */
  afterJob(): void;
  /** Enqueues a sync that carries on after a failure a person was answered with. */
  retryLater(reason: string): void;
  /** A sync could not write for lack of disk space (the daemon syncs again once there is some). */
  diskFull(): void;
}

export type Activity = 'idle' | 'syncing' | 'backing_off';

export class JobPolicy {
  private readonly d: JobPolicyDeps;
  /** Routine triggers skipped while paused, run when the pause ends. */
  private readonly deferred = new Map<TriggerType, string>();

  constructor(deps: JobPolicyDeps) {
    this.d = deps;
  }

  /** Best effort: on a full disk the activity cannot be written, and the sync is not failed for that. */
  setActivity(kind: Activity, extra: Partial<SyncProgress> & { reason?: string; next_retry_at?: string } = {}): void {
    try {
      this.d.local.state.set('activity', { kind, at: new Date(this.d.local.clock.now()).toISOString(), ...extra });
    } catch (err) {
      if (!isDiskFull(err)) throw err;
    }
  }

  /** The triggers a pause deferred, taken (the caller enqueues them). */
  takeDeferred(): [TriggerType, string][] {
    const out = [...this.deferred];
    this.deferred.clear();
    return out;
  }

  /** Runs one sync job, or skips it. Throws only to have the job runner retry it. */
  async handle(payload: SyncJobPayload, signal: AbortSignal): Promise<SyncResult> {
    const { settings, local, conn } = this.d;
    const user = USER_TRIGGERS.has(payload.trigger);
    if (!user && !settings.sync.enabled) return skipped(payload.trigger, 'sync.enabled is false');
    if (!user && local.state.get('paused')?.paused) {
      this.deferred.set(payload.trigger, payload.reason);
      return skipped(payload.trigger, 'automatic syncs are paused (the trigger runs when they resume)');
    }
    if (conn.simulatedOffline) return skipped(payload.trigger, 'offline (simulated)');
    if (conn.offline && !user) return skipped(payload.trigger, `offline: ${conn.state.reason ?? 'remote unreachable'}`);
    if (conn.credentialWaiting && !user) return skipped(payload.trigger, 'waiting for a credential the remote accepts (see sync status)');
    this.setActivity('syncing', { trigger: payload.trigger });
    try {
      return this.succeeded(payload, await this.d.worker.run(payload, signal, this.d.onProgress));
    } catch (err) {
      return this.failed(payload, err);
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

  private failed(payload: SyncJobPayload, err: unknown): SyncResult {
    const { conn, log } = this.d;
    const answered = ANSWERED_AT_ONCE.has(payload.trigger);
    const msg = messageOf(err);
    const failedResult = { ...skipped(payload.trigger, msg), status: 'failed' as const, error: msg };
    if (WorkerCrashError.is(err)) {
      log.error({ trigger: payload.trigger, err: msg }, 'sync worker crashed; the job will be retried on a fresh thread');
      this.setActivity('backing_off', { reason: msg });
      if (answered) return failedResult;
      throw err;
    }
    if (isDiskFull(err)) {
      // Local, not the remote's fault: nothing counts toward offline, and no job retries write to
      // the full disk; the daemon syncs again once space is free (monitor/disk.ts).
      this.d.diskFull();
      log.error({ trigger: payload.trigger, err: msg }, 'the disk holding the home is full; nothing queued is lost, and syncing resumes once space is free');
      return failedResult;
    }
    if (CredentialRefusedError.is(err)) {
      conn.credentialRefused(msg);
      const next = this.d.local.state.get('credential_refused')?.next_check_at;
      log.error({ trigger: payload.trigger, err: msg, next_check_at: next }, 'the remote refused this machine\'s credential; syncs wait until it is accepted');
      this.setActivity('backing_off', { reason: msg, next_retry_at: next });
      return failedResult;
    }
    if (!isRetryable(err)) {
      log.error({ trigger: payload.trigger, err: msg }, 'sync failed permanently; not retrying');
      this.setActivity('idle', { reason: msg });
      return failedResult;
    }
    conn.failure(err);
    if (conn.offline) {
      // The probe loop takes over: no failing jobs pile up.
      this.setActivity('backing_off', { reason: msg, next_retry_at: conn.state.next_probe_at });
      log.warn({ trigger: payload.trigger, err: msg, next_probe_at: conn.state.next_probe_at }, 'remote unreachable; offline');
      return failedResult;
    }
    if (answered) {
      this.setActivity('backing_off', { reason: msg });
      this.d.retryLater(`after a failed ${payload.trigger} sync: ${msg}`);
      return failedResult;
    }
    this.setActivity('backing_off', { reason: msg });
    log.warn({ trigger: payload.trigger, err: msg }, 'sync failed; the job will be retried with backoff');
    throw err instanceof Error ? err : new RemoteUnavailableError(msg);
  }
}
