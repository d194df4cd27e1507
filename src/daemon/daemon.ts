/**
 * The daemon (`ccm-sync start`): turns triggers into sync jobs and runs them on the sync worker
 * thread until stopped. This file wires the parts together; each part lives in its own module.
 *
 *   triggers ─► SyncJobs (liteque) ─► JobPolicy.handle ─► SyncWorkerHost ─► worker thread: runSync
 *   (../jobs/sync-jobs.ts holds the first two, ../workers/sync-thread.ts the last two)
 *
 * Triggers:
 * - threshold and event triggers: after every enqueue, in this process (the API) or another one
 *   (../triggers/commit-watch.ts);
 * - periodic and scheduled: ../triggers/periodic.ts (bree), plus retention pruning and the
 *   heartbeat on their own timers;
 * - user: POST /api/sync/now (and `ccm-sync sync now`, which calls it);
 * - connection: offline → draining enqueues an `online` sync (./connection.ts); resuming from a
 *   pause runs the triggers the pause deferred (../jobs/sync-jobs.ts).
 * The API port is bound before anything else starts: a taken port ends the start at once.
 */
import { systemClock, type Clock } from '../clock.ts';
import { messageOf } from '../errors.ts';
import { JobPolicy, SyncJobs } from '../jobs/sync-jobs.ts';
import { openLocal, type Local } from '../local.ts';
import { createLogger, type Logger } from '../log.ts';
import { DiskWatch } from '../monitor/disk.ts';
import { SyncMetrics } from '../monitor/prometheus.ts';
import { processAlive } from '../monitor/status.ts';
import { PeriodicScheduler } from '../triggers/periodic.ts';
import { thresholdCheck } from '../triggers/threshold.ts';
import { SyncWorkerHost } from '../workers/sync-thread.ts';
import { apiRoutes, bindApi, type Api, type ApiRoutes } from './api.ts';
import { ConnectionMonitor } from './connection.ts';
import { startHookIntake } from './hook-intake.ts';
import { lockHome, type HomeLock } from './lock.ts';
import { startHousekeeping } from './housekeeping.ts';
import { ensureToken } from './token.ts';
import { watchCommits } from '../triggers/commit-watch.ts';
import type { Settings } from '../config/load.ts';
import type { ConnectionState } from '../store/state.ts';
import type { DaemonCore } from './core.ts';
import type { SyncProgress } from '../workers/sync-run.ts';
import type { SyncJobPayload, SyncResult, TriggerType } from '../types.ts';

export interface DaemonOptions {
  clock?: Clock;
  log?: Logger;
  /** How often alert rules are evaluated. */
  alertIntervalMs?: number;
  /** Progress of every sync (the CLI draws a bar from it on a TTY). */
  onProgress?: (p: SyncProgress) => void;
  /** More API routes (tests and programs that embed the daemon). */
  routes?: (local: Local) => ApiRoutes;
}

export interface Daemon {
  port: number;
  local: Local;
  log: Logger;
  worker: SyncWorkerHost;
  syncNow(trigger?: TriggerType): Promise<SyncResult>;
  stop(): Promise<void>;
}

/** Who holds the API port, if it is another ccm-sync daemon of this database. */
function otherDaemon(local: Local): string | undefined {
  const d = local.state.get('daemon');
  return d && d.pid !== process.pid && processAlive(d.pid) ? `the ccm-sync daemon with pid ${d.pid} (started ${d.started_at})` : undefined;
}

/** The home locked, its database open and the API port bound; on failure, nothing is left held. */
async function claimHome(settings: Settings, clock: Clock): Promise<{ local: Local; lock: HomeLock; api: Api }> {
  const local = openLocal(settings, clock);
  let lock: HomeLock;
  try {
    lock = lockHome(settings.paths.home, () => otherDaemon(local));
  } catch (err) {
    local.close();
    throw err;
  }
  const api = await bindApi(settings.api.port, () => otherDaemon(local)).catch((err: unknown) => {
    lock.release();
    local.close();
    throw err;
  });
  return { local, lock, api };
}

/** Records that the daemon stopped, closes the database and lets go of the home. */
function release(local: Local, lock: HomeLock, log: Logger): void {
  try {
    local.state.delete('daemon');
    local.state.set('activity', { kind: 'idle', at: new Date(local.clock.now()).toISOString(), reason: 'daemon stopped' });
  } catch (err) {
    // A full disk: the daemon stops all the same (status sees its pid is gone).
    log.warn({ err: messageOf(err) }, 'could not record that the daemon stopped');
  }
  local.close();
  lock.release();
  log.info('ccm-sync daemon stopped');
}

export async function startDaemon(settings: Settings, opts: DaemonOptions = {}): Promise<Daemon> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger(settings.log_level);
  const { local, lock, api } = await claimHome(settings, clock);
  local.outbox.recount();
  const jobs = new SyncJobs({ file: settings.paths.jobsDb, attempts: settings.sync.retry.job_attempts, backoff: settings.sync.retry, timeoutMs: settings.sync.job_timeout_ms, onDiskFull: () => disk.noticed() });
  const worker = new SyncWorkerHost(settings, { onCrash: (why) => log.error({ why }, 'the sync worker thread died; a fresh one takes the next job') });
  const prom = new SyncMetrics(local);
  let stopping = false;

  const enqueue = enqueuer(jobs, log, () => stopping);
  const conn = connectionMonitor({ settings, local, log, worker }, enqueue);
  const disk = new DiskWatch(settings.paths.home, settings.monitoring.min_free_disk_mb * 1_048_576, () => {
    log.info('there is free disk space again; syncing what waited');
    enqueue('retry', 'disk space is free again');
  });
  const policy = jobPolicy({ settings, local, log, worker, conn, prom, retryLater: (reason) => enqueue('retry', reason), diskFull: () => disk.noticed() }, opts.onProgress, () => {
    if (!stopping) periodic.scheduleNext().catch((e: unknown) => log.error({ err: messageOf(e) }, 'could not reschedule'));
  });
  const checkThresholds = thresholdCheck(settings, local, log, enqueue, () => stopping);
  const commits = watchCommits(settings.paths.db, checkThresholds);

  const chores = startHousekeeping({ settings, local, log, worker, conn, disk, alertIntervalMs: opts.alertIntervalMs });

  const periodic = new PeriodicScheduler({
    settings, local, enqueue,
    onFired: (_name, work) => {
      if (work.kind === 'prune') chores.prune(work.olderThanDays);
      if (work.kind === 'health_check') chores.checkAlerts();
    },
    onError: (err) => log.error({ err: messageOf(err) }, 'scheduler error'),
  });

  const hooks = startHookIntake(settings.paths.home, local, log, checkThresholds);
  const syncNow = (trigger: TriggerType = 'manual') => {
    hooks.drain();
    return jobs.runNow(trigger);
  };
  api.serve(ensureToken(settings.paths.tokenFile), apiRoutes({
    settings, local, worker, conn, jobs, enqueue,
    drainHooks: () => hooks.drain(),
    recorded: checkThresholds,
    resumed: () => {
      for (const [trigger, reason] of policy.takeDeferred()) enqueue(trigger, `deferred while paused: ${reason}`);
    },
    extra: { ...hooks.routes, ...opts.routes?.(local) },
  }), () => prom.text());

  local.state.set('daemon', { pid: process.pid, port: api.port, started_at: new Date(clock.now()).toISOString() });
  policy.setActivity('idle');
  jobs.start((payload, signal) => policy.handle(payload, signal));
  await periodic.start();
  checkThresholds();
  if (local.outbox.pendingTotal() > 0) enqueue('startup', 'operations pending at start');
  log.info({ port: api.port, system: settings.system.id, remote: settings.remote.kind, mode: settings.sync.mode }, 'ccm-sync daemon started');

  return {
    port: api.port,
    local,
    log,
    worker,
    syncNow,
    async stop() {
      if (stopping) return;
      stopping = true;
      for (const part of [chores, hooks, commits, conn]) part.stop();
      await api.close();
      await periodic.stop();
      await worker.close();
      await jobs.stop();
      release(local, lock, log);
    },
  };
}

/** What runs each sync job; its progress is passed on, and written for status at most every 250 ms. */
function jobPolicy(deps: Omit<ConstructorParameters<typeof JobPolicy>[0], 'onProgress' | 'afterJob'>, onProgress: ((p: SyncProgress) => void) | undefined, afterJob: () => void): JobPolicy {
  let lastWrite = 0;
  const policy: JobPolicy = new JobPolicy({
    ...deps,
    onProgress: (p) => {
      onProgress?.(p);
      if (deps.local.clock.now() - lastWrite < 250) return;
      lastWrite = deps.local.clock.now();
      policy.setActivity('syncing', p);
    },
    afterJob,
  });
  return policy;
}

type Enqueue = (trigger: TriggerType, reason: string, limits?: SyncJobPayload['limits']) => void;

/** Enqueues a sync job (its idempotency key absorbs a burst), unless the daemon is stopping. */
function enqueuer(jobs: SyncJobs, log: Logger, stopping: () => boolean): Enqueue {
  return (trigger, reason, limits) => {
    if (stopping()) return;
    jobs.enqueue({ trigger, reason, ...(limits ? { limits } : {}) }).then(
      (id) => id && log.debug({ trigger, reason, job: id }, 'sync job enqueued'),
      (err: unknown) => log.error({ err: messageOf(err) }, 'could not enqueue a sync job'),
    );
  };
}

/** The link to the remote: probed through the worker; when it comes back, the backlog drains. */
function connectionMonitor({ settings, local, log, worker }: Omit<DaemonCore, 'conn'>, enqueue: Enqueue): ConnectionMonitor {
  return new ConnectionMonitor({
    settings,
    local,
    ping: () => worker.ping(),
    onRestored: (pending, offlineMs) => {
      log.info({ pending, offline_ms: offlineMs }, `Connection restored, draining ${pending} operations`);
      const long = offlineMs >= settings.sync.selective.offline_seconds * 1000;
      enqueue('online', `connection restored with ${pending} operations pending`, long ? { selective: true } : undefined);
    },
    onTransition: (from, to) => recordTransition(local, log, from, to),
    onCredentialAccepted: () => {
      log.info('the remote accepts this machine\'s credential again; syncing what waited');
      enqueue('retry', 'credential accepted again');
    },
  });
}

/** Every connection transition is logged and recorded as an urgent system_status row. */
function recordTransition(local: Local, log: Logger, from: ConnectionState['state'], to: ConnectionState): void {
  log.info({ from, to: to.state, reason: to.reason }, `connection ${from} → ${to.state}`);
  try {
    local.recorder.record([{
      operation: 'INSERT',
      table_name: 'system_status',
      record_id: `connection-${to.since}`,
      priority: 'urgent',
      record_data: { state: to.state, previous_state: from, reason: to.reason ?? null, since: to.since },
    }]);
  } catch (err) {
    log.error({ err: messageOf(err) }, 'could not record the connection transition');
  }
}
