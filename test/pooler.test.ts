/**
 * The postgres transport through a real transaction pooler: Debian's PgBouncer in transaction
 * mode, what Supabase's dedicated pooler runs on port 6543. Two systems and then a fleet of 100
 * sync through it exactly once, within the pool's server connections; a drain whose connections
 * are reset mid-batch still applies each operation once; a setting the pooler refuses is reported
 * by its real cause, not as a time-out.
 */
import { afterAll, describe, expect } from 'vitest';
import { startDaemon } from '../src/daemon/daemon.ts';
import { runCli } from './helpers/cli.ts';
import { makeEnv } from './helpers/env.ts';
import { APPLY_LOG_SQL, checkFleet, runFleet } from './helpers/fleet.ts';
import { startPgBouncer, type PgBouncer } from './helpers/pgbouncer.ts';
import { FaultProxy } from './helpers/proxy.ts';
import { scaled, until } from './helpers/wait.ts';
import { pgTest } from './helpers/fixtures.ts';

const POOL = 4;
let bouncer: PgBouncer;
pgTest.beforeAll(async ({ db }) => {
  await db.query(APPLY_LOG_SQL);
  bouncer = await startPgBouncer({ poolSize: POOL, maxClientConn: 400 });
});
afterAll(async () => {
  await bouncer?.close();
});

describe('through PgBouncer in transaction mode', () => {
  pgTest('syncs two systems, then a fleet of 100, exactly once within the pool', async ({ db }) => {
    let most = 0;
    const sample = async () => {
      most = Math.max(most, await bouncer.serverConnections(db.name));
    };
    const two = await runFleet({ systems: 2, opsPerSystem: 300, remote: { kind: 'postgres', url: bouncer.url(db.name) }, processes: 2, batch: 50, prefix: 'pair' });
    try {
      expect(await checkFleet(db.query.bind(db), two.systems)).toEqual({ lost: [], doubled: 0, unsettled: [] });
      // The operator's fleet view reads through the pooler too.
      const view = await runCli(['fleet', '--json', '--config', `${two.dir}/pair-000/config.yaml`], { env: { CCM_SYNC_DATABASE_URL: bouncer.url(db.name) } });
      expect(view.stderr).toBe('');
      expect(JSON.parse(view.stdout).totals).toMatchObject({ systems: 2, failing: 0, backlog: 0 });
    } finally {
      two.cleanup();
    }
    const fleet = await runFleet({ systems: 100, opsPerSystem: 30, rounds: 3, remote: { kind: 'postgres', url: bouncer.url(db.name) }, processes: 4, batch: 50, sample, sampleMs: 100 });
    try {
      expect(fleet.systems).toHaveLength(100);
      expect(await checkFleet(db.query.bind(db), fleet.systems)).toEqual({ lost: [], doubled: 0, unsettled: [] });
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(POOL);
    } finally {
      fleet.cleanup();
    }
  });

  pgTest('applies each operation once when the connections to the pooler are reset mid-drain', async ({ db }) => {
    const proxy = new FaultProxy(bouncer.port);
    await proxy.listen();
    const env = makeEnv({
      remote: { kind: 'postgres' },
      offline: { failures_before_offline: 3, probe_initial_ms: 200, probe_max_ms: 400 },
      sync: { max_ops_per_request: 50, retry: { base_delay_ms: 100, max_delay_ms: 400, jitter: 0.1, job_attempts: 50 }, intervals: { default: 3600 } },
    }, { CCM_SYNC_DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/${db.name}` });
    const daemon = await startDaemon(env.settings, { alertIntervalMs: 3_600_000 });
    try {
      const ops = Array.from({ length: 1000 }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: `reset-${i}`, record_data: { title: `reset ${i}` } }));
      for (let i = 0; i < ops.length; i += 100) daemon.local.recorder.record(ops.slice(i, i + 100));
      void daemon.syncNow('drain');
      let resets = 0;
      // Reset every connection each time the drain has moved a little further.
      for (const mark of [900, 700, 500, 300]) {
        await until(() => daemon.local.outbox.pendingTotal() <= mark, `the drain below ${mark}`, scaled(30_000), 5);
        proxy.resetAll();
        resets++;
      }
      await until(() => daemon.local.outbox.pendingTotal() === 0, 'the drain after the resets', scaled(60_000));
      const [{ n, once }] = await db.query<{ n: string; once: string }>(
        "select count(*) n, count(*) filter (where c = 1) once from (select op_id, count(*) c from fleet_apply_log where system_id = $1 group by op_id) x",
        [env.systemId],
      ) as [{ n: string; once: string }];
      expect({ n: Number(n), once: Number(once) }).toEqual({ n: 1000, once: 1000 });
      expect(daemon.local.db.prepare("SELECT count(*) AS n FROM sync_queue WHERE status = 'failed'").get()).toEqual({ n: 0 });
      // The resets landed mid-drain: syncs failed and were retried.
      expect(resets).toBe(4);
      expect((daemon.local.db.prepare('SELECT count(*) AS n FROM sync_metrics WHERE success = 0').get() as { n: number }).n).toBeGreaterThan(0);
    } finally {
      await daemon.stop();
      await proxy.close();
      env.cleanup();
    }
  });

  pgTest('names a startup parameter the pooler refuses, and does not call it a time-out', async ({ db }) => {
    const env = makeEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: `${bouncer.url(db.name)}?options=-c%20search_path%3Dpublic` });
    try {
      expect((await runCli(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', 'param-1', '--data', '{"title":"x"}'], { env: env.env })).code).toBe(0);
      const r = await runCli(['sync', 'now'], { env: env.env });
      expect(r.code).not.toBe(0);
      expect(r.stderr + r.stdout).toMatch(/pooler refused the startup parameter options/);
      expect(r.stderr + r.stdout).not.toMatch(/timed out/);
      // Nothing was lost: the operation waits.
      expect(JSON.parse((await runCli(["sync", "status", "--json"], { env: env.env })).stdout).pending.total).toBe(1);
    } finally {
      env.cleanup();
    }
  });
});
