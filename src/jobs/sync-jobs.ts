/**
 * Stage 3, jobs: what a trigger enqueues, in the durable job runner (liteque on its own SQLite file;
 * it creates a table named `tasks`, which must not meet ours).
 *
 * Coalescing: every trigger enqueues with an idempotency key naming its class, `sync:event`
 * (urgent, critical, security, online/offline) or `sync:routine` (periodic, threshold, scheduled).
 * While a job of that class is waiting, further triggers of the class are absorbed by it, so a
 * burst of 10,000 recorded operations yields one waiting job per class, not one per threshold
 * crossing. Our liteque patch releases the key when a job starts running, so a trigger that
 * arrives during a sync still leaves one follow-up job: it is never lost.
 * `sync now` enqueues without a key, so the caller can wait for its own job's result.
 *
 * Retries: liteque reruns a failed job after `retryDelay(run)`: exponential with jitter, capped
 * (our patch; upstream retries at once).
 *
 * Running a job (`JobPolicy.handle`, below): whether it runs at all (sync.enabled, pause,
 * offline), then the sync itself on the sync worker thread (../workers/sync-thread.ts), then how
 * its outcome moves the connection state and what a person sees of it (activity, log).
 * - Routine triggers are skipped while paused, and remembered: resuming runs them at once.
 * - Offline, only a person's request tries the remote; everything else waits for the drain that
 *   follows the probe. A simulated outage (`test offline`) skips syncs without counting them as
 *   failures, so the probe is not pushed back.
 * - A retryable remote failure counts once toward going offline. A crashed worker thread is a
 *   local failure: the job is retried, and the remote is not judged unreachable for it.
 */
import { buildDBClient, Runner, SqliteQueue } from '#liteque';
import { backoffDelay, type BackoffOptions } from '../backoff.ts';
import { CredentialRefusedError, RemoteUnavailableError, StoreError, WorkerCrashError, exitCodeOf, isDiskFull, isRetryable, messageOf } from '../errors.ts';
import { preparePrivateFile } from '../store/private-file.ts';
import { emptyResult } from '../settle/run-outcome.ts';
import type { SyncProgress } from '../workers/sync-context.ts';
import type { DaemonCore } from '../daemon/core.ts';
import type { SyncMetrics } from '../monitor/prometheus.ts';
import type { SyncJobPayload, SyncResult, TriggerType } from '../types.ts';

const EVENT_TRIGGERS: ReadonlySet<TriggerType> = new Set(['urgent', 'critical_error', 'security', 'context_change', 'online', 'offline']);

export interface SyncJobsOptions {
  file: string;
  attempts: number;
  backoff: BackoffOptions;
  timeoutMs: number;
  pollIntervalMs?: number;
  /** The job file could not be written for lack of disk space. */
  onDiskFull?: () => void;
}

export type JobHandler = (payload: SyncJobPayload, signal: AbortSignal, jobId: string) => Promise<unknown>;

export class SyncJobs {
  readonly queue: SqliteQueue<SyncJobPayload>;
  private runner?: Runner<SyncJobPayload, unknown>;
  private running?: Promise<void>;
  private readonly opts: SyncJobsOptions;
  private readonly closeDb: () => void;
  private readonly waiters = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();

  constructor(opts: SyncJobsOptions) {
    this.opts = opts;
    preparePrivateFile(opts.file);
    const db = buildDBClient(opts.file, { runMigrations: true });
    // liteque never closes its connection; drizzle keeps it as session.client.
    this.closeDb = () => (db as unknown as { session?: { client?: { close(): void } } }).session?.client?.close();
    this.queue = new SqliteQueue<SyncJobPayload>('sync', db, {
      defaultJobArgs: { numRetries: opts.attempts - 1 },
      keepFailedJobs: false,
    });
  }

  /** Enqueues a coalescing sync job. Returns its id, or undefined when an equal one was waiting. */
  async enqueue(payload: SyncJobPayload): Promise<string | undefined> {
    const event = EVENT_TRIGGERS.has(payload.trigger);
    const job = await this.queue.enqueue(payload, { idempotencyKey: event ? 'sync:event' : 'sync:routine', priority: event ? 0 : 1 });
    return job ? String(job.id) : undefined;
  }

  /** Enqueues a job of its own and resolves with its handler's result (or its final error). */
  async enqueueAndWait(payload: SyncJobPayload): Promise<unknown> {
    const job = await this.queue.enqueue(payload, { priority: 0 });
    if (!job) throw new Error('liteque refused a job without idempotency key');
    return new Promise((resolve, reject) => this.waiters.set(String(job.id), { resolve, reject }));
  }

  /**
   * A sync a person asked for (`sync now`, the API's drain): a job of its own, its result awaited.
   * Liteque runs it with the handler given to start(), in the daemon `JobPolicy.handle` below.
   */
  async runNow(trigger: TriggerType, limits?: SyncJobPayload['limits']): Promise<SyncResult> {
    try {
      return (await this.enqueueAndWait({ trigger, reason: `requested (${trigger})`, ...(limits ? { limits } : {}) })) as SyncResult;
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      this.opts.onDiskFull?.();
      throw new StoreError(`disk full: the sync could not be queued (${this.opts.file}); nothing queued is lost, and the daemon syncs by itself once space is free`);
    }
  }

  async stats(): Promise<{ pending: number; pending_retry: number; running: number; failed: number }> {
    return this.queue.stats();
  }

  /** Runs jobs one at a time with `handler` until stop(). */
  start(handler: JobHandler): void {
    this.runner = new Runner<SyncJobPayload, unknown>(
      this.queue,
      {
        run: async (job) => handler(job.data, job.abortSignal, job.id),
        onComplete: async (job, result) => {
          this.waiters.get(job.id)?.resolve(result);
          this.waiters.delete(job.id);
        },
        onError: async (job) => {
          if (job.numRetriesLeft <= 0) {
            this.waiters.get(job.id)?.reject(job.error);
            this.waiters.delete(job.id);
          }
        },
      },
      {
        pollIntervalMs: this.opts.pollIntervalMs ?? 25,
        timeoutSecs: Math.ceil(this.opts.timeoutMs / 1000),
        concurrency: 1,
        retryDelayMs: (run) => backoffDelay(run + 1, this.opts.backoff),
      },
    );
    this.running = this.runner.run();
  }

  async stop(): Promise<void> {
    this.runner?.stop();
    await this.running;
    for (const w of this.waiters.values()) w.reject(new Error('the daemon is shutting down'));
    this.waiters.clear();
    this.closeDb();
  }
}

/** Triggers a person asked for, or the drain after a reconnect: they run even when paused or offline. */
const USER_TRIGGERS: ReadonlySet<TriggerType> = new Set(['manual', 'drain', 'online', 'retry']);

/**
 * Of those, the ones a person waits on (`sync now`, the API's drain): a retryable failure is
 * answered at once instead of being retried behind their back, and a `retry` job carries the
 * work on. The others are retried by the job runner with backoff like any routine trigger, so a
 * drain after a reconnect that fails again is not left for the next periodic sync.
 */
const ANSWERED_AT_ONCE: ReadonlySet<TriggerType> = new Set(['manual', 'drain']);

function skipped(trigger: TriggerType, reason: string): SyncResult {
  return { ...emptyResult(trigger), skipped: reason };
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
    const failedResult = { ...skipped(payload.trigger, msg), status: 'failed' as const, error: msg, exit_code: exitCodeOf(err) };
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
