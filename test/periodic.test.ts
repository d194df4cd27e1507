/**
 * Periodic triggers: the adaptive rule (with an injected clock), bree firing the periodic sync,
 * an overdue persisted next_sync running at once after a restart, and scheduled jobs.
 */
import { writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.ts';
import { loadSettings } from '../src/config/load.ts';
import { startDaemon } from '../src/daemon/daemon.ts';
import { openLocal } from '../src/local.ts';
import { effectiveInterval, recordingRate } from '../src/triggers/adaptive.ts';
import { PeriodicScheduler } from '../src/triggers/periodic.ts';
import { makeEnv } from './helpers/env.ts';
import { until } from './helpers/wait.ts';
import { pgTest } from './helpers/fixtures.ts';

const metrics = (file: string) => {
  const d = new Database(file, { readonly: true });
  try {
    return d.prepare('SELECT trigger_type, timestamp FROM sync_metrics ORDER BY id').all() as { trigger_type: string; timestamp: string }[];
  } finally {
    d.close();
  }
};

describe('adaptive interval', () => {
  it('comes sooner when busy, later when idle, within [0.25×, 2×] of the base', () => {
    const env = makeEnv({ system: { id: 'adaptive-1', type: 'developer_workstation' } });
    try {
      const clock = new ManualClock('2026-05-01T12:00:00.000Z');
      const local = openLocal(env.settings, clock);
      expect(effectiveInterval(env.settings, recordingRate(local.db, clock.now()))).toEqual({ base_seconds: 1800, effective_seconds: 3600, rate_per_minute: 0 });
      const ops = Array.from({ length: 150 }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: `a${i}`, record_data: {} }));
      local.recorder.record(ops); // 150 in 15 minutes = 10/min: halfway to busy
      const half = effectiveInterval(env.settings, recordingRate(local.db, clock.now()));
      expect(half.effective_seconds).toBe(Math.round(1800 * (2 - 1.75 * 0.5)));
      local.recorder.record(ops.map((o) => ({ ...o, record_id: `b${o.record_id}` })).concat(ops.map((o) => ({ ...o, record_id: `c${o.record_id}` }))));
      expect(effectiveInterval(env.settings, recordingRate(local.db, clock.now())).effective_seconds).toBe(450);
      clock.advance(16 * 60_000); // the burst leaves the 15-minute window: idle again
      expect(effectiveInterval(env.settings, recordingRate(local.db, clock.now())).effective_seconds).toBe(3600);
      local.close();
    } finally {
      env.cleanup();
    }
  });

  it('picks the base by system type, or intervals.default in manual selection, and the mode preset bounds', () => {
    const prod = makeEnv({ system: { id: 'p', type: 'production_server' } });
    const backup = makeEnv({ system: { id: 'b', type: 'backup_server' }, sync: { mode: 'conservative' } });
    const manual = makeEnv({ system: { id: 'm', type: 'backup_server' }, sync: { interval_selection: 'manual', intervals: { default: 900 } } });
    try {
      expect(effectiveInterval(prod.settings, 100).effective_seconds).toBe(75);
      expect(effectiveInterval(backup.settings, 0).effective_seconds).toBe(3600);
      expect(effectiveInterval(backup.settings, 100).effective_seconds).toBe(3600);
      expect(effectiveInterval(manual.settings, 0).base_seconds).toBe(900);
      expect(loadSettings({ configPath: backup.configPath, env: {} }).sync.thresholds.max_pending_operations).toBe(200);
    } finally {
      prod.cleanup();
      backup.cleanup();
      manual.cleanup();
    }
  });
});

describe('periodic sync in the daemon', () => {
  pgTest('fires on its interval through bree, persists next_sync, and runs an overdue one at once after a restart', async ({ db }) => {
    const env = makeEnv(
      { remote: { kind: 'postgres' }, sync: { intervals: { default: 2 }, adaptive: { min_factor: 1, max_factor: 1 } } },
      { CCM_SYNC_DATABASE_URL: db.url },
    );
    try {
      let daemon = await startDaemon(env.settings);
      await until(() => metrics(env.settings.paths.db).some((m) => m.trigger_type === 'periodic'), 'a periodic sync', 10_000);
      const next = daemon.local.state.get('next_sync');
      expect(next && Date.parse(next.at)).toBeGreaterThan(Date.now() - 1000);
      await daemon.stop();

      // Restart with a long interval but a persisted next_sync that is already past.
      const state = new Database(env.settings.paths.db);
      state.prepare("UPDATE sync_state SET value = json_set(value, '$.at', '2020-01-01T00:00:00.000Z') WHERE key = 'next_sync'").run();
      state.close();
      const before = metrics(env.settings.paths.db).filter((m) => m.trigger_type === 'periodic').length;
      const longer = { ...env.settings, sync: { ...env.settings.sync, intervals: { ...env.settings.sync.intervals, default: 3600 } } };
      const t0 = Date.now();
      daemon = await startDaemon(longer);
      await until(() => metrics(env.settings.paths.db).filter((m) => m.trigger_type === 'periodic').length > before, 'the overdue periodic sync', 5000);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(Date.parse(daemon.local.state.get('next_sync')!.at)).toBeGreaterThan(Date.now() + 3000 * 1000);
      await daemon.stop();
    } finally {
      env.cleanup();
    }
  });

  pgTest('runs scheduled cron jobs from the config and refuses an invalid cron string', async ({ db }) => {
    const bad = makeEnv();
    writeFileSync(bad.configPath, 'sync:\n  scheduled_jobs:\n    - { name: x, cron: "61 * * * *", kind: sync }\n');
    expect(() => loadSettings({ configPath: bad.configPath, env: {} })).toThrow(/sync\.scheduled_jobs\.0\.cron: invalid cron expression: Number '61' of minutes field/);
    bad.cleanup();
    const env = makeEnv(
      { remote: { kind: 'postgres' }, sync: { scheduled_jobs: [{ name: 'every-second', cron: '* * * * * *', kind: 'sync' }] } },
      { CCM_SYNC_DATABASE_URL: db.url },
    );
    try {
      const daemon = await startDaemon(env.settings);
      await until(() => metrics(env.settings.paths.db).some((m) => m.trigger_type === 'scheduled'), 'a scheduled sync', 10_000);
      await daemon.stop();
    } finally {
      env.cleanup();
    }
  });

  it('reschedules safely when several syncs end at once (no "already started" race in bree)', async () => {
    const env = makeEnv();
    const local = openLocal(env.settings);
    const errors: unknown[] = [];
    const s = new PeriodicScheduler({ settings: env.settings, local, enqueue: () => undefined, onFired: () => undefined, onError: (e) => errors.push(e) });
    try {
      await s.start();
      await Promise.all(Array.from({ length: 8 }, () => s.scheduleNext()));
      expect(errors).toEqual([]);
      expect(local.state.get('next_sync')).toBeDefined();
    } finally {
      await s.stop();
      local.close();
      env.cleanup();
    }
  });
});
