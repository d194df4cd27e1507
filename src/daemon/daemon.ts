/**
 * The daemon (`ccm-sync start`): turns triggers into sync jobs and runs them on the sync worker
 * thread until stopped.
 *
 *   triggers ─► SyncJobs (liteque) ─► handleJob ─► SyncWorkerHost ─► worker thread: runSync
 *
 * Triggers:
 * - threshold and event triggers: after every enqueue. Enqueues from this process (the API) are
 *   checked at once. Enqueues from other processes (`ccm-sync enqueue` from a hook) are seen
 *   through a watch on the database directory: every commit touches the WAL file, inotify tells us
 *   within milliseconds, and the check is one read of the counters. We chose the watch over a
 *   local socket because it costs the enqueue path nothing (no connect, no daemon needed) and over
 *   uploading from the CLI because that would load a remote client in every hook call. A daemon
 *   that was down simply checks the counters when it starts.
 * - periodic and scheduled: ../triggers/periodic.ts (bree).
 * - user: POST /api/sync/now (and `ccm-sync sync now`, which calls it).
 * - connection: offline → draining enqueues an `online` sync (./connection.ts).
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { systemClock, type Clock } from '../clock.ts';
import { InputError, RemoteUnavailableError, isRetryable, messageOf } from '../errors.ts';
import { SyncJobs } from '../jobs/sync-jobs.ts';
import { openLocal, type Local } from '../local.ts';
import { createLogger, type Logger } from '../log.ts';
import { evaluateAlerts, reconcileAlerts } from '../monitor/alerts.ts';
import { SyncMetrics } from '../monitor/prometheus.ts';
import { statusSnapshot } from '../monitor/status.ts';
import { PeriodicScheduler } from '../triggers/periodic.ts';
import { ThresholdWatch } from '../triggers/threshold.ts';
import { SyncWorkerHost } from '../workers/host.ts';
import { startApi } from './api.ts';
import { ConnectionMonitor } from './connection.ts';
import { ensureToken } from './token.ts';
import { retryFailed } from '../repair.ts';
import type { VerifyItem } from '../remote/transport.ts';
import type { Settings } from '../config/load.ts';
import type { ConnectionState } from '../store/state.ts';
import type { SyncProgress } from '../workers/sync-run.ts';
import type { SyncJobPayload, SyncResult, TriggerType } from '../types.ts';

/** Triggers a person asked for: they run even when paused or offline. */
const USER_TRIGGERS: ReadonlySet<TriggerType> = new Set(['manual', 'drain', 'online', 'retry']);

export interface DaemonOptions {
  clock?: Clock;
  log?: Logger;
  /** How often alert rules are evaluated. */
  alertIntervalMs?: number;
  /** Progress of every sync (the CLI draws a bar from it on a TTY). */
  onProgress?: (p: SyncProgress) => void;
}

export interface Daemon {
  port: number;
  local: Local;
  log: Logger;
  syncNow(trigger?: TriggerType): Promise<SyncResult>;
  stop(): Promise<void>;
}

function skipped(trigger: TriggerType, reason: string): SyncResult {
  return {
    status: 'nothing_to_sync', trigger, skipped: reason, operations_synced: 0, operations_failed: 0, operations_stale: 0,
    operations_conflict: 0, operations_pending_retry: 0, batches: 0, bytes_sent: 0, operations_in: 0, bytes_in: 0, operations_out: 0, duration_ms: 0,
  };
}

export async function startDaemon(settings: Settings, opts: DaemonOptions = {}): Promise<Daemon> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger(settings.log_level);
  const local = openLocal(settings, clock);
  local.outbox.recount();
  const jobs = new SyncJobs({
    file: settings.paths.jobsDb,
    attempts: settings.sync.retry.job_attempts,
    backoff: settings.sync.retry,
    timeoutMs: settings.sync.job_timeout_ms,
  });
  const worker = new SyncWorkerHost(settings);
  const prom = new SyncMetrics(local);
  let stopping = false;

  const setActivity = (kind: 'idle' | 'syncing' | 'backing_off', extra: Partial<SyncProgress> & { reason?: string; next_retry_at?: string } = {}) => {
    local.state.set('activity', { kind, at: new Date(clock.now()).toISOString(), ...extra });
  };

  const enqueue = (trigger: TriggerType, reason: string, limits?: SyncJobPayload['limits']) => {
    if (stopping) return;
    jobs.enqueue({ trigger, reason, ...(limits ? { limits } : {}) }).then(
      (id) => id && log.debug({ trigger, reason, job: id }, 'sync job enqueued'),
      (err: unknown) => log.error({ err: messageOf(err) }, 'could not enqueue a sync job'),
    );
  };

  const recordTransition = (from: ConnectionState['state'], to: ConnectionState) => {
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
  };

  const conn = new ConnectionMonitor({
    settings,
    local,
    clock,
    ping: () => worker.ping(),
    onRestored: (pending, offlineMs) => {
      log.info({ pending, offline_ms: offlineMs }, `Connection restored, draining ${pending} operations`);
      const long = offlineMs >= settings.sync.selective.offline_seconds * 1000;
      enqueue('online', `connection restored with ${pending} operations pending`, long ? { selective: true } : undefined);
    },
    onTransition: recordTransition,
  });

  let lastProgressWrite = 0;
  const onProgress = (p: SyncProgress) => {
    opts.onProgress?.(p);
    if (clock.now() - lastProgressWrite < 250) return;
    lastProgressWrite = clock.now();
    setActivity('syncing', p);
  };

  /** Runs one sync job. Routine triggers are skipped while paused or offline. */
  const handleJob = async (payload: SyncJobPayload, signal: AbortSignal): Promise<SyncResult> => {
    const user = USER_TRIGGERS.has(payload.trigger);
    if (!user && !settings.sync.enabled) return skipped(payload.trigger, 'sync.enabled is false');
    if (!user && local.state.get('paused')?.paused) return skipped(payload.trigger, 'automatic syncs are paused');
    // Offline, only a person's request tries the remote; everything else waits for the drain
    // that follows the probe (urgent first), instead of piling up failing jobs.
    if (conn.simulatedOffline || (conn.offline && !user)) {
      if (conn.simulatedOffline) conn.failure(new RemoteUnavailableError('simulated offline'));
      return skipped(payload.trigger, conn.simulatedOffline ? 'offline (simulated)' : `offline: ${conn.state.reason ?? 'remote unreachable'}`);
    }
    setActivity('syncing', { trigger: payload.trigger });
    try {
      const result = await worker.run(payload, signal, onProgress);
      prom.observe(result);
      conn.success();
      conn.syncCompleted();
      log.info({ trigger: payload.trigger, status: result.status, operations: result.operations_synced, ms: result.duration_ms }, 'sync finished');
      setActivity('idle');
      return result;
    } catch (err) {
      const msg = messageOf(err);
      if (!isRetryable(err)) {
        log.error({ trigger: payload.trigger, err: msg }, 'sync failed permanently; not retrying');
        setActivity('idle', { reason: msg });
        return { ...skipped(payload.trigger, msg), status: 'failed', error: msg };
      }
      conn.failure(err);
      if (user) {
        // A person is waiting for the answer: report the failure now rather than retry for minutes.
        setActivity('backing_off', { reason: msg, next_retry_at: conn.state.next_probe_at });
        return { ...skipped(payload.trigger, msg), status: 'failed', error: msg };
      }
      if (conn.offline) {
        // The probe loop takes over and drains when the remote answers; no failing jobs pile up.
        setActivity('backing_off', { reason: msg, next_retry_at: conn.state.next_probe_at });
        log.warn({ trigger: payload.trigger, err: msg, next_probe_at: conn.state.next_probe_at }, 'remote unreachable; offline');
        return { ...skipped(payload.trigger, msg), status: 'failed', error: msg };
      }
      setActivity('backing_off', { reason: msg });
      log.warn({ trigger: payload.trigger, err: msg }, 'sync failed; the job will be retried with backoff');
      throw err;
    } finally {
      if (!stopping) periodic.scheduleNext().catch((e: unknown) => log.error({ err: messageOf(e) }, 'could not reschedule'));
    }
  };

  const watchThresholds = new ThresholdWatch(settings.sync);
  const checkThresholds = () => {
    if (stopping) return;
    try {
      const fired = watchThresholds.check(local.outbox.activity());
      if (fired) enqueue(fired.trigger, fired.reason);
    } catch (err) {
      log.error({ err: messageOf(err) }, 'threshold check failed');
    }
  };

  // When to look at the counters. inotify reports the writes to the WAL file, but SQLite makes a
  // commit visible through the memory-mapped -shm index, which raises no event: the last event
  // of a commit can arrive just before the commit is readable. So: look at once (an urgent
  // operation should not wait), look again 10 ms after the last event of a burst, and once a
  // second whatever happens, so that nothing a racing look missed waits for long.
  let trailing: NodeJS.Timeout | undefined;
  const dbBase = path.basename(settings.paths.db);
  const watcher: FSWatcher = watch(path.dirname(settings.paths.db), (_event, file) => {
    if (!file || !file.startsWith(dbBase)) return;
    if (!trailing) checkThresholds();
    clearTimeout(trailing);
    trailing = setTimeout(() => {
      trailing = undefined;
      checkThresholds();
    }, 10);
  });
  const safetyCheck = setInterval(checkThresholds, 1000);

  const periodic = new PeriodicScheduler({
    settings,
    local,
    clock,
    enqueue,
    onFired: (name, kind) => {
      if (kind === 'prune') prune(name);
      if (kind === 'health_check') checkAlerts();
    },
    onError: (err) => log.error({ err: messageOf(err) }, 'scheduler error'),
  });

  const prune = (name: string) => {
    const days = settings.sync.scheduled_jobs.find((j) => `user:${j.name}` === name)?.older_than_days;
    const now = clock.now();
    const metricsBefore = new Date(now - settings.monitoring.metrics_retention_days * 86_400_000).toISOString();
    const removedMetrics = local.metrics.prune(metricsBefore);
    const removedOps = days ? local.outbox.pruneSynced(new Date(now - days * 86_400_000).toISOString()) : 0;
    log.info({ job: name, removedMetrics, removedOps }, 'pruned');
  };

  const checkAlerts = () => {
    try {
      const changed = reconcileAlerts(local, evaluateAlerts(local, settings.monitoring, clock.now()), clock.now());
      if (changed.started.length || changed.resolved.length) log.warn(changed, 'alerts changed');
    } catch (err) {
      log.error({ err: messageOf(err) }, 'alert check failed');
    }
  };
  const alertTimer = setInterval(checkAlerts, opts.alertIntervalMs ?? 30_000);

  const syncNow = async (trigger: TriggerType = 'manual') => jobs.enqueueAndWait({ trigger, reason: `requested (${trigger})` }) as Promise<SyncResult>;

  const token = ensureToken(settings.paths.tokenFile);
  const api = await startApi(settings.api.port, token, {
    'POST /api/sync/now': () => syncNow('manual'),
    'POST /api/sync/drain': () => syncNow('drain'),
    'GET /api/sync/status': () => statusSnapshot(local, settings, { byTable: true }),
    'POST /api/operations': (body) => {
      const list = Array.isArray(body) ? body : body && typeof body === 'object' && 'operations' in body ? (body as { operations: unknown }).operations : [body];
      if (!Array.isArray(list) || list.length === 0) throw new InputError('expected an operation, an array of operations, or {"operations": [...]}');
      const res = local.recorder.record(list);
      checkThresholds();
      return { recorded: res.op_ids.length, op_ids: res.op_ids };
    },
    'POST /api/sync/retry-failed': () => {
      const out = retryFailed(local, settings, 'all');
      if (out.requeued.length > 0) enqueue('retry', `${out.requeued.length} failed operations re-queued`);
      return { requeued: out.requeued.length, warnings: out.warnings };
    },
    'POST /api/pause': (body) => {
      const want = (body as { paused?: boolean } | undefined)?.paused;
      const paused = typeof want === 'boolean' ? want : !(local.state.get('paused')?.paused ?? false);
      local.state.set('paused', { paused, at: new Date(clock.now()).toISOString() });
      return { paused };
    },
    'POST /api/offline': (body) => {
      const ms = (body as { duration_ms?: number | null } | undefined)?.duration_ms;
      if (ms !== null && ms !== undefined && (typeof ms !== 'number' || ms < 0)) throw new InputError('duration_ms must be a non-negative number or null');
      conn.simulate(ms ? clock.now() + ms : null);
      return { simulated_offline_until: ms ? new Date(clock.now() + ms).toISOString() : null };
    },
    'POST /api/verify': async (body) => {
      const ops = (body as { ops?: unknown } | undefined)?.ops;
      if (!Array.isArray(ops)) throw new InputError('expected {"ops": [{"op_id", "seq"}, ...]}');
      const missing: string[] = [];
      const pruned: string[] = [];
      for (let i = 0; i < ops.length; i += 5000) {
        const v = await worker.verify(ops.slice(i, i + 5000) as VerifyItem[]);
        missing.push(...v.missing);
        pruned.push(...v.pruned);
      }
      return { checked: ops.length, missing, pruned };
    },
  }, () => prom.text());

  local.state.set('daemon', { pid: process.pid, port: api.port, started_at: new Date(clock.now()).toISOString() });
  setActivity('idle');
  jobs.start(handleJob);
  await periodic.start();
  checkThresholds();
  if (local.outbox.pendingTotal() > 0) enqueue('startup', 'operations pending at start');
  log.info({ port: api.port, system: settings.system.id, remote: settings.remote.kind, mode: settings.sync.mode }, 'ccm-sync daemon started');

  return {
    port: api.port,
    local,
    log,
    syncNow,
    async stop() {
      if (stopping) return;
      stopping = true;
      clearInterval(alertTimer);
      clearTimeout(trailing);
      clearInterval(safetyCheck);
      watcher.close();
      conn.stop();
      await api.close();
      await periodic.stop();
      await worker.close();
      await jobs.stop();
      local.state.delete('daemon');
      local.state.set('activity', { kind: 'idle', at: new Date(clock.now()).toISOString(), reason: 'daemon stopped' });
      local.close();
      log.info('ccm-sync daemon stopped');
    },
  };
}
