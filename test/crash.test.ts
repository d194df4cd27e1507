/**
 * Crash and outage safety with real processes and a real server: kill -9 of the daemon at random
 * moments of a 20,000-operation drain, and a Postgres that is stopped mid-drain and started again.
 * Every operation must end up applied exactly once.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon } from '../src/daemon/daemon.ts';
import { openLocal } from '../src/local.ts';
import { startDaemonProcess } from './helpers/daemon-process.ts';
import { makeEnv } from './helpers/env.ts';
import { startPrivatePostgres, type PrivatePostgres } from './helpers/private-pg.ts';
import { scaled, until } from './helpers/wait.ts';

let server: PrivatePostgres;

beforeAll(async () => {
  server = await startPrivatePostgres();
  // Count every write to tasks per operation id: a second application of one op would show here.
  await server.query(`
    create table public.apply_log (op_id uuid not null);
    create function public.log_apply() returns trigger language plpgsql security definer as $$
    begin insert into public.apply_log (op_id) values (new.sync_op_id); return new; end $$;
    create trigger log_apply after insert or update on public.tasks for each row execute function public.log_apply();`);
});
afterAll(async () => {
  await server.destroy();
});

function localCounts(file: string): { pending: number; synced: number; ops: string[] } {
  const d = new Database(file, { readonly: true });
  try {
    const by = Object.fromEntries((d.prepare('SELECT status, count(*) AS n FROM sync_queue GROUP BY status').all() as { status: string; n: number }[]).map((r) => [r.status, r.n]));
    return { pending: by.pending ?? 0, synced: by.synced ?? 0, ops: [] };
  } finally {
    d.close();
  }
}

async function assertExactlyOnce(systemId: string, prefix: string, expected: number, opIds: string[]): Promise<void> {
  const rows = await server.query<{ n: string }>('select count(*) n from tasks where system_id = $1 and id like $2', [systemId, `${prefix}%`]);
  expect(Number(rows[0]!.n)).toBe(expected);
  const ledger = await server.query<{ n: string }>('select count(*) n from ccm_sync_ledger where op_id = any($1::uuid[])', [opIds]);
  expect(Number(ledger[0]!.n)).toBe(expected);
  const doubles = await server.query('select op_id, count(*) from apply_log where op_id = any($1::uuid[]) group by op_id having count(*) > 1', [opIds]);
  expect(doubles).toEqual([]);
}

describe('crash safety', () => {
  it('survives 20 kill -9 of the daemon during a 20,000-operation drain: each operation applied exactly once', async () => {
    const env = makeEnv(
      { remote: { kind: 'postgres' }, log_level: 'silent', sync: { intervals: { default: 3600 }, max_ops_per_request: 50 } },
      { CCM_SYNC_DATABASE_URL: server.url },
    );
    try {
      const local = openLocal(env.settings);
      const opIds: string[] = [];
      for (let i = 0; i < 20_000; i += 1000) {
        const ops = Array.from({ length: 1000 }, (_, j) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: `k-${i + j}`, record_data: { title: `kill test ${i + j}` } }));
        opIds.push(...local.recorder.record(ops).op_ids);
      }
      local.close();
      // Each daemon is killed once the drain is seen to move, after a random number of settled
      // operations (1 to 600, so 20 lives never finish the 20,000): the kill lands mid-drain on
      // a fast machine and a slow one alike, whatever the daemon's startup costs.
      const watch = new Database(env.settings.paths.db, { readonly: true });
      const pending = watch.prepare("SELECT count(*) AS n FROM sync_queue WHERE status = 'pending'").pluck();
      let last = 20_000;
      for (let kill = 0; kill < 20; kill++) {
        const d = await startDaemonProcess(env.env);
        const target = last - 1 - Math.floor(Math.random() * 600);
        await until(() => (pending.get() as number) <= target, `the drain to settle ${last - target} operations before kill ${kill + 1}`, 20_000, 2);
        await new Promise((r) => setTimeout(r, Math.random() * 20)); // anywhere in the next batch
        await d.kill9();
        const now = pending.get() as number;
        expect(now).toBeLessThan(last);
        expect(now).toBeGreaterThan(0); // mid-drain: work was left for the next daemon
        last = now;
      }
      watch.close();
      const d = await startDaemonProcess(env.env);
      await until(() => localCounts(env.settings.paths.db).pending === 0, 'the drain to finish after the kills', 30_000, 250);
      expect(await d.stop()).toBe(0);
      expect(localCounts(env.settings.paths.db)).toMatchObject({ pending: 0, synced: 20_000 });
      await assertExactlyOnce(env.systemId, 'k-', 20_000, opIds);
    } finally {
      env.cleanup();
    }
  }, scaled(80_000));

  it('backs off while Postgres is stopped mid-drain and finishes once it is started again', async () => {
    const env = makeEnv(
      {
        remote: { kind: 'postgres' },
        offline: { failures_before_offline: 3, probe_initial_ms: 200, probe_max_ms: 1000 },
        sync: { intervals: { default: 3600 }, request_timeout_ms: 2000, max_ops_per_request: 20, retry: { base_delay_ms: 100, max_delay_ms: 500, jitter: 0.1, job_attempts: 20 } },
      },
      { CCM_SYNC_DATABASE_URL: server.url },
    );
    const daemon = await startDaemon(env.settings);
    try {
      const ops = Array.from({ length: 3000 }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: `pgstop-${i}`, record_data: { title: 'x' } }));
      const opIds = daemon.local.recorder.record(ops).op_ids;
      await until(() => localCounts(env.settings.paths.db).synced > 0, 'the drain to start', 10_000, 5);
      server.stop();
      const stoppedAt = localCounts(env.settings.paths.db).pending;
      expect(stoppedAt).toBeGreaterThan(0);
      await until(() => daemon.local.state.get('connection')?.state === 'offline', 'offline while Postgres is down', 15_000);
      // The daemon stays responsive: recording works while the remote is down.
      daemon.local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: 'pgstop-late', record_data: { title: 'late' } }]);
      opIds.push(...(daemon.local.db.prepare("SELECT op_id FROM sync_queue WHERE record_id = 'pgstop-late'").all() as { op_id: string }[]).map((r) => r.op_id));
      server.start();
      await until(() => localCounts(env.settings.paths.db).pending === 0, 'the drain to finish after the restart', 30_000, 100);
      const rows = await server.query<{ n: string }>("select count(*) n from tasks where system_id = $1 and id like 'pgstop-%'", [env.systemId]);
      expect(Number(rows[0]!.n)).toBe(3001);
      const doubles = await server.query('select op_id from apply_log where op_id = any($1::uuid[]) group by op_id having count(*) > 1', [opIds]);
      expect(doubles).toEqual([]);
    } finally {
      await daemon.stop();
      env.cleanup();
    }
  }, scaled(30_000));
});
