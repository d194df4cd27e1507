/**
 * The daemon's timed chores beside syncing: alert rules every 30 s, history pruning every
 * retention.every_minutes (in the worker, in bounded chunks), and a heartbeat to the remote every
 * monitoring.heartbeat_minutes so the fleet view sees a quiet system as alive. Each logs its own
 * failure and tries again next time.
 */
import { messageOf } from '../errors.ts';
import { evaluateAlerts, reconcileAlerts } from '../monitor/alerts.ts';
import { tokenFacts } from '../remote/credentials.ts';
import type { DiskWatch } from '../monitor/disk.ts';
import type { DaemonCore } from './core.ts';

export interface Housekeeping {
  checkAlerts(): void;
  /** Prunes synced history (older than `syncedDays`, else retention.synced_days). */
  prune(syncedDays?: number): void;
  stop(): void;
}

export interface HousekeepingDeps extends DaemonCore {
  disk: DiskWatch;
  alertIntervalMs?: number;
}

export function startHousekeeping(d: HousekeepingDeps): Housekeeping {
  const { settings, local, log, worker, conn, disk } = d;
  const clock = local.clock;
  const checkAlerts = () => {
    disk.check();
    try {
      const token = tokenFacts(settings);
      const known = local.state.get('token');
      if (token && (known?.source !== token.source || known?.expires_at !== token.expires_at)) local.state.set('token', token);
      const changed = reconcileAlerts(local, evaluateAlerts(local, settings.monitoring, clock.now(), token, disk.waiting), clock.now());
      if (changed.started.length || changed.resolved.length) log.warn(changed, 'alerts changed');
    } catch (err) {
      log.error({ err: messageOf(err) }, 'alert check failed');
    }
  };
  const prune = (syncedDays?: number) => {
    worker.prune(syncedDays).then((r) => log.info(r, 'pruned history'), (err: unknown) => log.error({ err: messageOf(err) }, 'pruning failed; it is tried again later'));
  };
  const heartbeat = () => {
    if (!conn.offline && !conn.simulatedOffline) worker.heartbeat().catch((err: unknown) => log.warn({ err: messageOf(err) }, 'heartbeat not sent'));
  };
  const timers = [
    setInterval(checkAlerts, d.alertIntervalMs ?? 30_000),
    setInterval(() => prune(), settings.retention.every_minutes * 60_000),
    setInterval(heartbeat, settings.monitoring.heartbeat_minutes * 60_000),
  ];
  return {
    checkAlerts,
    prune,
    stop: () => {
      for (const t of timers) clearInterval(t);
    },
  };
}
