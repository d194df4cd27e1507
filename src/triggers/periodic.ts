/**
 * Stage 2, triggers: the time-based ones, scheduled with bree.
 *
 * - The periodic sync: one bree job at a computed date. After it fires, and after every completed
 *   sync, the next date is recomputed from the adaptive interval (./adaptive.ts), persisted as
 *   `next_sync`, and the job is rescheduled. On start, a persisted `next_sync` in the past fires
 *   at once instead of waiting a whole interval.
 * - The user's `sync.scheduled_jobs` (cron) and a daily prune of old metrics.
 * Bree runs each job in a short-lived worker thread (../workers/scheduled-job.ts) that only says
 * which job fired; the daemon does the work (onFired): a sync through its own enqueue, prune and
 * health_check in its housekeeping.
 */
import { fileURLToPath } from 'node:url';
import Bree from 'bree';
import { effectiveInterval, recordingRate, type IntervalChoice } from './adaptive.ts';
import type { Settings } from '../config/load.ts';
import type { Local } from '../local.ts';
import type { TriggerType } from '../types.ts';

const SCRIPT = fileURLToPath(new URL(`../workers/scheduled-job${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

export interface ScheduledWork {
  kind: 'sync' | 'health_check' | 'prune';
  trigger: TriggerType;
  reason: string;
  olderThanDays?: number;
}

export interface PeriodicDeps {
  settings: Settings;
  local: Local;
  /** A sync that is due: the periodic one (also overdue at start) or a scheduled one. */
  enqueue(trigger: TriggerType, reason: string): void;
  /** A scheduled job that is not a sync (prune, health_check), for the daemon to run. */
  onFired(name: string, work: ScheduledWork): void;
  onError(err: unknown): void;
}

export class PeriodicScheduler {
  private bree?: Bree;
  private readonly deps: PeriodicDeps;
  private stopped = false;
  /** Reschedules run one after another: bree's remove/add/start must not interleave. */
  private chain: Promise<void> = Promise.resolve();
  current?: IntervalChoice;

  constructor(deps: PeriodicDeps) {
    this.deps = deps;
  }

  private work(kind: ScheduledWork['kind'], trigger: TriggerType, reason: string, extra: Partial<ScheduledWork> = {}): ScheduledWork {
    return { kind, trigger, reason, ...extra };
  }

  /** A job's worker said it fired: a sync goes to the daemon's enqueue, the rest to onFired. */
  private fired(msg: { name: string; message: unknown }): void {
    const { work } = msg.message as { work: ScheduledWork };
    if (work.kind === 'sync') this.deps.enqueue(work.trigger, work.reason);
    else this.deps.onFired(msg.name, work);
  }

  async start(): Promise<void> {
    const s = this.deps.settings;
    const jobs: Bree.JobOptions[] = s.sync.scheduled_jobs.map((j) => ({
      name: `user:${j.name}`,
      path: SCRIPT,
      cron: j.cron,
      hasSeconds: j.cron.trim().split(/\s+/).length === 6,
      worker: { workerData: this.work(j.kind, 'scheduled', `scheduled job ${j.name}`, { olderThanDays: j.older_than_days }) },
    }));
    jobs.push({ name: 'builtin:prune-metrics', path: SCRIPT, cron: '17 3 * * *', worker: { workerData: this.work('prune', 'scheduled', 'daily prune') } });
    this.bree = new Bree({
      root: false,
      doRootCheck: false,
      logger: false,
      jobs,
      acceptedExtensions: ['.js', '.mjs', '.ts'],
      workerMessageHandler: (msg) => this.fired(msg as { name: string; message: unknown }),
      errorHandler: (err: unknown) => this.deps.onError(err),
    });
    this.bree.on('worker deleted', (name: string) => {
      if (name === 'periodic' && !this.stopped) this.scheduleNext().catch((err: unknown) => this.deps.onError(err));
    });
    await this.bree.start();
    const persisted = this.deps.local.state.get('next_sync');
    const now = this.deps.local.clock.now();
    if (s.sync.enabled && persisted && Date.parse(persisted.at) <= now) {
      this.deps.enqueue('periodic', `overdue since ${persisted.at}`);
      await this.scheduleNext();
    } else if (persisted && s.sync.enabled) {
      await this.scheduleAt(new Date(persisted.at));
    } else {
      await this.scheduleNext();
    }
  }

  /** Recomputes the adaptive interval and schedules the periodic sync that far from now. */
  scheduleNext(): Promise<void> {
    return this.serialised(async () => {
      const now = this.deps.local.clock.now();
      this.current = effectiveInterval(this.deps.settings, recordingRate(this.deps.local.db, now));
      this.deps.local.state.set('interval', this.current);
      await this.reschedule(new Date(now + this.current.effective_seconds * 1000));
    });
  }

  private scheduleAt(at: Date): Promise<void> {
    return this.serialised(() => this.reschedule(at));
  }

  private serialised(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async reschedule(at: Date): Promise<void> {
    const bree = this.bree;
    if (!bree || this.stopped) return;
    if (!this.deps.settings.sync.enabled) {
      this.deps.local.state.delete('next_sync');
      return;
    }
    this.deps.local.state.set('next_sync', { at: at.toISOString(), trigger: 'periodic' });
    if (bree.config.jobs.some((j) => j.name === 'periodic')) {
      if (bree.workers.has('periodic')) return; // firing now; rescheduled when its worker exits
      await bree.remove('periodic');
    }
    await bree.add({ name: 'periodic', path: SCRIPT, date: at, worker: { workerData: this.work('sync', 'periodic', 'periodic interval elapsed') } });
    await bree.start('periodic');
  }

  /** Lets a reschedule under way finish first, so that it cannot start a timer after bree stopped. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.chain;
    await this.bree?.stop();
  }
}
