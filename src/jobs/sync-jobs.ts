/**
 * Sync jobs: what a trigger enqueues, in the durable job runner (liteque on its own SQLite file;
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
 */
import { buildDBClient, Runner, SqliteQueue } from '#liteque';
import { preparePrivateFile } from '../store/private-file.ts';
import { backoffDelay, type BackoffOptions } from '../backoff.ts';
import type { SyncJobPayload, TriggerType } from '../types.ts';

export { backoffDelay, type BackoffOptions };

export const EVENT_TRIGGERS: ReadonlySet<TriggerType> = new Set(['urgent', 'critical_error', 'security', 'context_change', 'online', 'offline']);

export interface SyncJobsOptions {
  file: string;
  attempts: number;
  backoff: BackoffOptions;
  timeoutMs: number;
  pollIntervalMs?: number;
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
