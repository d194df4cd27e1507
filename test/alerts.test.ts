/** Alert rules (firing, queued once, resolved), the health table, and the dashboard's no-daemon feedback. */
import { render } from 'ink-testing-library';
import { createElement } from 'react';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.ts';
import { openLocal } from '../src/local.ts';
import { evaluateAlerts, reconcileAlerts } from '../src/monitor/alerts.ts';
import { App } from '../src/tui/App.tsx';
import { makeEnv } from './helpers/env.ts';
import { runCli } from './helpers/cli.ts';
import { until } from './helpers/wait.ts';
import type { SyncResult } from '../src/types.ts';

const result = (over: Partial<SyncResult>): SyncResult => ({
  status: 'synced', trigger: 'periodic', operations_synced: 10, operations_failed: 0, operations_stale: 0, operations_conflict: 0,
  operations_pending_retry: 0, batches: 1, bytes_sent: 100, operations_in: 10, bytes_in: 1000, operations_out: 2, duration_ms: 100, ...over,
});

describe('alerts', () => {
  it('fires each design rule at its threshold, queues it once as an urgent alert, and resolves it', () => {
    const env = makeEnv({ monitoring: { max_failures_per_hour: 5, max_pending_operations: 500, max_seconds_since_success: 7200 } });
    const clock = new ManualClock('2026-09-01T12:00:00.000Z');
    const local = openLocal(env.settings, clock);
    try {
      expect(evaluateAlerts(local, env.settings.monitoring, clock.now())).toEqual([]);
      local.metrics.record(result({}), new Date(clock.now()));
      local.state.set('last_success', { at: new Date(clock.now()).toISOString() });
      for (let i = 0; i < 6; i++) local.metrics.record(result({ status: 'failed', error: 'down' }), new Date(clock.now() - i * 60_000));
      local.recorder.record(Array.from({ length: 501 }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: `al-${i}`, record_data: {} })));
      clock.advance(2 * 3_600_000 + 1000);
      // The failures are now older than an hour; record 6 fresh ones.
      for (let i = 0; i < 6; i++) local.metrics.record(result({ status: 'failed', error: 'down' }), new Date(clock.now() - i * 60_000));
      const firing = evaluateAlerts(local, env.settings.monitoring, clock.now());
      expect(firing.map((a) => a.rule).sort()).toEqual(['queue_backlog', 'sync_failures', 'sync_stale']);
      expect(firing.find((a) => a.rule === 'sync_failures')!.message).toBe('6 sync failures in the last hour (limit 5)');

      const alertOps = () => local.db.prepare("SELECT operation, priority, record_data FROM sync_queue WHERE table_name = 'alerts' ORDER BY id").all() as { operation: string; priority: string; record_data: string }[];
      expect(reconcileAlerts(local, firing, clock.now()).started.sort()).toEqual(['queue_backlog', 'sync_failures', 'sync_stale']);
      reconcileAlerts(local, firing, clock.now()); // still firing: nothing new queued
      expect(alertOps()).toHaveLength(3);
      expect(alertOps().every((o) => o.priority === 'urgent' && o.operation === 'INSERT')).toBe(true);

      const stillFiring = firing.filter((a) => a.rule !== 'sync_failures');
      expect(reconcileAlerts(local, stillFiring, clock.now()).resolved).toEqual(['sync_failures']);
      const last = alertOps().at(-1)!;
      expect(last.operation).toBe('UPDATE');
      expect(JSON.parse(last.record_data)).toMatchObject({ status: 'resolved' });
    } finally {
      local.close();
      env.cleanup();
    }
  });

  it('gives a system that never synced the same grace, from its first recorded operation', () => {
    const env = makeEnv({ monitoring: { max_seconds_since_success: 3600 } });
    const clock = new ManualClock('2026-09-01T12:00:00.000Z');
    const local = openLocal(env.settings, clock);
    try {
      const stale = () => evaluateAlerts(local, env.settings.monitoring, clock.now()).filter((a) => a.rule === 'sync_stale');
      clock.advance(10 * 3_600_000); // a fresh install, days after the package was built: nothing to be late with
      expect(stale()).toEqual([]);
      local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: 'g-1', record_data: {} }]);
      clock.advance(3_599_000);
      expect(stale()).toEqual([]);
      clock.advance(2000);
      expect(stale().map((a) => a.message)).toEqual(['no successful sync yet; operations have waited 60 minutes (limit 60 minutes)']);
    } finally {
      local.close();
      env.cleanup();
    }
  });

  it('`ccm-sync alerts` exits 1 while any fire, 0 when none', async () => {
    const env = makeEnv({ monitoring: { max_pending_operations: 2 } });
    try {
      let r = await runCli(['alerts'], { env: env.env });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/no alerts firing/);
      await runCli(['enqueue', '--stdin'], { env: env.env, input: [1, 2, 3].map((i) => JSON.stringify({ operation: 'INSERT', table_name: 'tasks', record_id: `x${i}`, record_data: {} })).join('\n') });
      r = await runCli(['alerts', '--json'], { env: env.env });
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).firing.map((a: { rule: string }) => a.rule)).toContain('queue_backlog');
    } finally {
      env.cleanup();
    }
  });
});

describe('health table', () => {
  it('groups syncs per day, newest first: Date | Syncs | Operations | Avg Duration | Failures', async () => {
    const env = makeEnv();
    const local = openLocal(env.settings);
    try {
      local.metrics.record(result({ duration_ms: 100 }), new Date('2026-09-01T10:00:00Z'));
      local.metrics.record(result({ duration_ms: 300, operations_synced: 5 }), new Date('2026-09-01T11:00:00Z'));
      local.metrics.record(result({ status: 'failed', operations_synced: 0, duration_ms: 50 }), new Date('2026-09-02T09:00:00Z'));
      const rows = local.metrics.health('2026-08-30');
      expect(rows.map((r) => [r.date, r.syncs, r.operations, r.avg_duration_ms, r.failures])).toEqual([
        ['2026-09-02', 1, 0, 50, 1],
        ['2026-09-01', 2, 15, 200, 0],
      ]);
    } finally {
      local.close();
      env.cleanup();
    }
  });
});

describe('dashboard actions without a daemon', () => {
  it('says that no daemon runs instead of doing nothing', async () => {
    const env = makeEnv();
    const local = openLocal(env.settings);
    try {
      const app = render(createElement(App, { settings: env.settings, local, refreshMs: 50 }));
      await until(() => /Queue: 0/.test(app.lastFrame() ?? ''), 'first frame', 5000);
      app.stdin.write('s');
      await until(() => /no daemon is running: start one with `ccm-sync start`/.test(app.lastFrame() ?? ''), 'the no-daemon message', 5000);
      app.unmount();
    } finally {
      local.close();
      env.cleanup();
    }
  });
});
