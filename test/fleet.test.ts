/**
 * A small fleet in CI: 10 systems × 500 operations syncing at once into one Postgres (and 4 × 200
 * through a real PostgREST with supabase-js), every operation of every system exactly once; then
 * the fleet view an operator reads, with a failing system and, once they fall silent, stale ones.
 */
import { scaled } from './helpers/wait.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import { runCli } from './helpers/cli.ts';
import { APPLY_LOG_SQL, checkFleet, runFleet, type FleetRun } from './helpers/fleet.ts';
import { anonKey, JWT_SECRET } from './helpers/jwt.ts';
import { startPostgrest } from './helpers/postgrest.ts';
import { pgTest } from './helpers/fixtures.ts';

let fleet: FleetRun;
pgTest.beforeAll(async ({ db }) => {
  await db.query(APPLY_LOG_SQL);
});
afterAll(async () => {
  fleet?.cleanup();
});

describe('a fleet of 10 systems', () => {
  pgTest('syncs every operation of every system exactly once, all at the same time', async ({ db }) => {
    fleet = await runFleet({ systems: 10, opsPerSystem: 500, remote: { kind: 'postgres', url: db.url }, processes: 2, batch: 100 });
    expect(fleet.operations).toBe(5000);
    const check = await checkFleet(db.query.bind(db), fleet.systems);
    expect(check).toEqual({ lost: [], doubled: 0, unsettled: [] });
    // Every operation went through the ledger (pruned down to each system's watermark), and every
    // system reported itself.
    const systems = await db.query<{ system_id: string; settled_through: string; pruned_through: string }>('select system_id, settled_through, pruned_through from ccm_sync_systems order by 1');
    expect(systems).toHaveLength(10);
    for (const s of systems) expect(Number(s.pruned_through)).toBeGreaterThan(0);
  }, scaled(40_000));

  pgTest('shows the operator every system, a failing one, and stale ones once they fall silent', async ({ db }) => {
    const env = { CCM_SYNC_DATABASE_URL: db.url };
    // The fleet view from an operator's machine: any config naming the postgres remote.
    const operator = path.join(fleet.dir, 'fleet-000', 'config.yaml');
    const view = JSON.parse((await runCli(['fleet', '--json', '--config', operator], { env })).stdout);
    expect(view.totals).toMatchObject({ systems: 10, stale: 0, failing: 0, backlog: 0, failed: 0 });
    expect(view.systems[3]).toMatchObject({ system_id: 'fleet-003', type: 'developer_workstation', version: JSON.parse(readFileSync('package.json', 'utf8')).version, backlog: 0, failed: 0, connection: 'online', stale: false, failing: false });
    expect(Date.parse(view.systems[3].last_sync_at)).toBeGreaterThan(Date.now() - 600_000);
    expect((await runCli(['fleet', '--alerts', '--config', operator], { env })).code).toBe(0);

    // fleet-004 records an alert the remote refuses for good: a dead letter, reported at once.
    await db.query("alter table alerts add constraint fleet_no_poison check (message is distinct from 'poison')");
    const home = path.join(fleet.dir, 'fleet-004', 'config.yaml');
    await runCli(['enqueue', '--op', 'INSERT', '--table', 'alerts', '--id', 'poison-1', '--data', '{"message":"poison","severity":"warning"}', '--config', home], { env });
    expect((await runCli(['sync', 'now', '--config', home], { env })).code).toBe(1);
    const alerts = await runCli(['fleet', '--alerts', '--config', operator], { env });
    expect(alerts.code).toBe(1);
    expect(alerts.stdout).toMatch(/^fleet-004: 1 dead-lettered$/m);
    expect(alerts.stdout).not.toMatch(/fleet-003/);

    // A system can write only its own heartbeat, but any shape: the operator's view takes it.
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      for (const [sys, hb] of [['fleet-005', 'just text'], ['fleet-006', { type: '\u001b[31mred', alerts: 'x', backlog: -5 }]] as const) {
        await c.query('begin');
        await c.query("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)", [JSON.stringify({ role: 'authenticated', system_id: sys })]);
        await c.query('select public.batch_sync($1::jsonb)', [JSON.stringify({ system_id: sys, sync_timestamp: new Date().toISOString(), operations: [], heartbeat: hb })]);
        await c.query('commit');
      }
    } finally {
      await c.end();
    }
    const odd = await runCli(['fleet', '--json', '--config', operator], { env });
    expect(odd.code).toBe(0);
    const oddView = JSON.parse(odd.stdout);
    expect(oddView.systems.find((x: { system_id: string }) => x.system_id === 'fleet-005')).toMatchObject({ type: null, alerts: [], backlog: null });
    expect(oddView.systems.find((x: { system_id: string }) => x.system_id === 'fleet-006')).toMatchObject({ type: '[31mred', alerts: [], backlog: 0 });

    // Silent for longer than the threshold: stale, every one of them.
    await new Promise((r) => setTimeout(r, 1500));
    const stale = await runCli(['fleet', '--alerts', '--json', '--stale-minutes', '0.02', '--config', operator], { env });
    expect(stale.code).toBe(1);
    const staleView = JSON.parse(stale.stdout);
    expect(staleView.totals).toMatchObject({ systems: 10, stale: 10, failing: 1 });
    expect(staleView.systems.find((x: { system_id: string }) => x.system_id === 'fleet-004').problems).toEqual([expect.stringMatching(/^silent for \d+ min$/), '1 dead-lettered']);
    const human = await runCli(['fleet', '--config', operator, '--stale-minutes', '0.02'], { env });
    expect(human.stdout).toMatch(/^10 systems · 10 stale \(silent over 0\.02 min\) · 1 failing/);
    expect(human.stdout).toMatch(/^fleet-004 +\| production_server +\| \S+ +\| .* \| 1 +\| online +\| - +\| STALE$/m);
  }, scaled(15_000));
});

describe('the backlog a system reports', () => {
  pgTest('is 0 once a drain of 3,000 operations at the default batch size has finished', async ({ db }) => {
    const { makeEnv } = await import('./helpers/env.ts');
    const env = makeEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: db.url });
    try {
      const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ operation: 'INSERT', table_name: 'supervisory_reports', record_id: `bl-${i}`, record_data: { summary: `r${i}` } })).join('\n');
      expect((await runCli(['enqueue', '--stdin'], { env: env.env, input: `${lines}\n` })).code).toBe(0);
      const drained = await runCli(['sync', 'now'], { env: env.env, timeoutMs: scaled(60_000) });
      expect(drained.code, drained.stderr).toBe(0);
      const view = JSON.parse((await runCli(['fleet', '--json'], { env: env.env })).stdout);
      expect(view.systems.find((x: { system_id: string }) => x.system_id === env.systemId)).toMatchObject({ backlog: 0, failed: 0 });
    } finally {
      env.cleanup();
    }
  });
});

describe('a fleet through PostgREST and supabase-js', () => {
  pgTest('syncs 4 systems × 200 operations exactly once over HTTP', async ({ db }) => {
    const api = await startPostgrest(db);
    try {
      const run = await runFleet({ systems: 4, opsPerSystem: 200, remote: { kind: 'supabase', url: api.url, anonKey: await anonKey(), jwtSecret: JWT_SECRET }, processes: 1, prefix: 'http', batch: 50 });
      try {
        expect(await checkFleet(db.query.bind(db), run.systems)).toEqual({ lost: [], doubled: 0, unsettled: [] });
      } finally {
        run.cleanup();
      }
    } finally {
      await api.close();
    }
  }, scaled(30_000));
});
