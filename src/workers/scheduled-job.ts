// Entry point of a bree job worker. A periodic or scheduled sync only enqueues a sync job into
// the durable runner; other kinds (prune, health_check) are reported to the daemon, which runs them.
import { parentPort, workerData } from 'node:worker_threads';
import { SyncJobs } from '../jobs/sync-jobs.ts';
import type { ScheduledWork } from '../triggers/periodic.ts';

const work = workerData as ScheduledWork & { job: { name: string } };
if (work.kind === 'sync') {
  const jobs = new SyncJobs({ file: work.jobsFile, attempts: work.attempts, backoff: { base_delay_ms: 0, max_delay_ms: 0, jitter: 0 }, timeoutMs: 1000 });
  await jobs.enqueue({ trigger: work.trigger, reason: work.reason });
}
parentPort?.postMessage({ name: work.job.name, kind: work.kind });
