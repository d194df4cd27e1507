// Entry point of a bree job worker: bree runs each timed job in a thread, and this one only tells
// the daemon which job fired. The daemon does the work itself: a periodic or scheduled sync goes
// to its own durable enqueue, a prune or health check to its housekeeping (src/daemon/housekeeping.ts).
import { parentPort, workerData } from 'node:worker_threads';
import type { ScheduledWork } from '../triggers/periodic.ts';

const work = workerData as ScheduledWork & { job: { name: string } };
parentPort?.postMessage({ name: work.job.name, work: { kind: work.kind, trigger: work.trigger, reason: work.reason, olderThanDays: work.olderThanDays } });
