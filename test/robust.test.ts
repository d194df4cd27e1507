/**
 * A daemon that survives what it meets, with real means: Postgres backends terminated mid-batch
 * and connections reset by a proxy (no thread crash, one failure counted per fault), a thread
 * that dies (only its own requests fail), two syncs asked of one worker at once (they never
 * overlap), big hook events, a record that breaks packaging, a pause that holds an urgent trigger,
 * a taken port, and critical alerts with immediate_on_error off.
 */
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../src/daemon/daemon.ts';
import { openLocal, syncContext } from '../src/local.ts';
import { PostgresTransport } from '../src/remote/postgres.ts';
import { ThresholdWatch } from '../src/triggers/threshold.ts';
import { SyncWorkerHost } from '../src/workers/sync-thread.ts';
import { runSync } from '../src/workers/sync-run.ts';
import { freePort } from './helpers/postgrest.ts';
import { makeEnv } from './helpers/env.ts';
import { runCli } from './helpers/cli.ts';
import { startDaemonProcess } from './helpers/daemon-process.ts';
import { until } from './helpers/wait.ts';
import { faultProxyTest, viaProxy, type TestDatabase } from './helpers/fixtures.ts';

/** The backend running a batch_sync call right now. */
const ON_THE_WIRE = "select pid from pg_stat_activity where query like 'select public.batch_sync%' and state = 'active' and pid <> pg_backend_pid()";
const tasks = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: `${prefix}-${i}`, record_data: { title: `${prefix} ${i}` } }));
const remoteCount = async (db: TestDatabase, sys: string, prefix: string) => Number((await db.query<{ n: string }>('select count(*) n from tasks where system_id = $1 and id like $2', [sys, `${prefix}-%`]))[0]!.n);

describe('connections that die', () => {
  faultProxyTest('counts one failure per fault, never crashes the thread, for a terminated backend and for proxy resets', async ({ db, proxy }) => {
    const env = makeEnv({
      remote: { kind: 'postgres' },
      offline: { failures_before_offline: 2, probe_initial_ms: 200, probe_max_ms: 400 },
      sync: { max_ops_per_request: 50, retry: { base_delay_ms: 200, max_delay_ms: 400, jitter: 0, job_attempts: 20 }, intervals: { default: 3600 } },
    }, { CCM_SYNC_DATABASE_URL: viaProxy(db, proxy) });
    // A slow apply, so that a batch is on the wire when the fault comes.
    await db.query(`create or replace function ccm_test_slow() returns trigger language plpgsql as $$
      begin if new.title like 'kill %' then perform pg_sleep(0.01); end if; return new; end $$`);
    await db.query('create trigger ccm_test_slow before insert on tasks for each row execute function ccm_test_slow()');
    const daemon = await startDaemon(env.settings, { alertIntervalMs: 3_600_000 });
    try {
      daemon.local.recorder.record(tasks('kill', 400));
      const done = daemon.syncNow('drain');
      await until(async () => (await db.query(ON_THE_WIRE)).length > 0, 'a batch on the wire');
      expect((await db.query(`select pg_terminate_backend(pid) from (${ON_THE_WIRE}) x`)).length).toBe(1);
      const first = await done;
      expect(first.status).toBe('failed');
      expect(daemon.local.state.get('connection')).toMatchObject({ state: 'online', consecutive_failures: 1 });
      // Two resets of every open connection, each its own fault.
      const second = daemon.syncNow('drain');
      await until(async () => (await db.query(ON_THE_WIRE)).length > 0, 'a batch on the wire');
      proxy.resetAll();
      expect((await second).status).toBe('failed');
      expect(daemon.local.state.get('connection')).toMatchObject({ state: 'offline', consecutive_failures: 2 });
      // The probe finds the remote and the drain finishes; the thread never died.
      await until(async () => (await remoteCount(db, env.systemId, 'kill')) === 400 && daemon.local.outbox.pendingTotal() === 0, 'the drain after the faults', 30_000);
      expect(daemon.worker.started).toBe(1);
    } finally {
      await daemon.stop();
      await db.query('drop trigger ccm_test_slow on tasks; drop function ccm_test_slow()');
      env.cleanup();
    }
  });
});

describe('the worker thread', () => {
  faultProxyTest('fails only the requests of a thread that dies, and runs two syncs asked at once one after the other', async ({ db }) => {
    const env = makeEnv({ remote: { kind: 'postgres' }, sync: { max_ops_per_request: 20 } }, { CCM_SYNC_DATABASE_URL: db.url });
    // A slow apply (10 ms a record), so that the first sync is still on the wire when its thread dies.
    await db.query(`create or replace function ccm_test_slow() returns trigger language plpgsql as $$
      begin if new.title like 'thread %' then perform pg_sleep(0.01); end if; return new; end $$`);
    await db.query('create trigger ccm_test_slow before insert on tasks for each row execute function ccm_test_slow()');
    const host = new SyncWorkerHost(env.settings);
    const local = openLocal(env.settings);
    try {
      local.recorder.record(tasks('thread', 300));
      const doomed = host.run({ trigger: 'manual', reason: 'doomed' });
      await until(async () => (await db.query(ON_THE_WIRE)).length > 0, 'the first sync under way');
      await host.restart();
      const [a, b] = [host.run({ trigger: 'drain', reason: 'a' }), host.run({ trigger: 'drain', reason: 'b' })];
      await expect(doomed).rejects.toMatchObject({ name: 'WorkerCrashError' });
      const results = await Promise.all([a, b]);
      expect(results.map((r) => r.status)).toContain('synced');
      expect(host.started).toBe(2);
      expect(await remoteCount(db, env.systemId, 'thread')).toBe(300);
      // The two syncs did not overlap: the second started after the first had finished.
      const rows = local.db.prepare("SELECT timestamp, duration_ms FROM sync_metrics WHERE trigger_type = 'drain' ORDER BY id").all() as { timestamp: string; duration_ms: number }[];
      expect(rows).toHaveLength(2);
      expect(Date.parse(rows[1]!.timestamp) - rows[1]!.duration_ms).toBeGreaterThanOrEqual(Date.parse(rows[0]!.timestamp));
    } finally {
      await host.close();
      local.close();
      env.cleanup();
      await db.query('drop trigger ccm_test_slow on tasks; drop function ccm_test_slow()');
    }
  });

  faultProxyTest('drains 2,000 hook events of 100 KB each through the thread', async ({ db }) => {
    const env = makeEnv({ remote: { kind: 'postgres' }, hooks: { max_field_chars: 200_000 }, sync: { max_ops_per_request: 500 } }, { CCM_SYNC_DATABASE_URL: db.url });
    const host = new SyncWorkerHost(env.settings);
    const local = openLocal(env.settings);
    try {
      const big = 'x'.repeat(100_000);
      for (let i = 0; i < 2000; i += 100) {
        local.recorder.record(Array.from({ length: 100 }, (_, j) => ({
          operation: 'INSERT' as const, table_name: 'hook_events', record_id: `big-${i + j}`,
          record_data: { task_id: `big-task-${(i + j) % 20}`, hook_event_name: 'PostToolUse', tool_name: 'Read', tool_use_id: `t${i + j}`, tool_input: { file_path: '/x' }, tool_response: big },
        })));
      }
      const r = await host.run({ trigger: 'drain', reason: 'big' });
      expect(r).toMatchObject({ status: 'synced', operations_synced: 2000 });
      expect(local.outbox.pendingTotal()).toBe(0);
      const [s] = await db.query<{ n: string }>('select sum(total_events) n from task_summaries where system_id = $1', [env.systemId]);
      expect(Number(s!.n)).toBe(2000);
      expect(host.started).toBe(1);
    } finally {
      await host.close();
      local.close();
      env.cleanup();
    }
  });

  faultProxyTest('does not drop its packaged batches for an urgent operation that only waits out a retry delay', async ({ db }) => {
    const env = makeEnv({ remote: { kind: 'postgres' }, sync: { retry: { base_delay_ms: 3_600_000, max_delay_ms: 3_600_000 } } }, { CCM_SYNC_DATABASE_URL: db.url });
    const local = openLocal(env.settings);
    const transport = new PostgresTransport({ connectionString: db.url, systemId: env.systemId, timeoutMs: 10_000 });
    await db.query(`create or replace function ccm_test_later() returns trigger language plpgsql as $$
      begin if new.id = 'urgent-later' then raise exception 'not yet'; end if; return new; end $$`);
    await db.query('create trigger ccm_test_later before insert on alerts for each row execute function ccm_test_later()');
    try {
      local.recorder.record([{ operation: 'INSERT', table_name: 'alerts', record_id: 'urgent-later', record_data: { message: 'x' }, priority: 'urgent' }]);
      await runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 'first try' });
      local.recorder.record(tasks('backlog', 2000));
      let pages = 0;
      const page = local.outbox.page.bind(local.outbox);
      local.outbox.page = (...args) => {
        pages++;
        return page(...args);
      };
      const r = await runSync(syncContext(local, env.settings, transport), { trigger: 'drain', reason: 'drain', limits: { batchSize: 50 } });
      expect(r.operations_synced).toBe(2000);
      expect(pages).toBeLessThanOrEqual(3); // one page of 2,000 (page_size), one that finds nothing more
    } finally {
      await db.query('drop trigger ccm_test_later on alerts; drop function ccm_test_later()');
      await transport.close();
      local.close();
      env.cleanup();
    }
  });

  faultProxyTest('dead-letters a record that breaks packaging, and drains the rest', async ({ db }) => {
    const env = makeEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: db.url });
    const local = openLocal(env.settings);
    const transport = new PostgresTransport({ connectionString: db.url, systemId: env.systemId, timeoutMs: 10_000 });
    try {
      local.recorder.record(tasks('pack', 40));
      // A row damaged on disk (or edited by hand): its record_data no longer parses.
      local.db.prepare("UPDATE sync_queue SET record_data = '{\"title\": ' WHERE record_id = 'pack-17'").run();
      const r = await runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 'pack' });
      expect(r).toMatchObject({ operations_synced: 39, operations_failed: 1 });
      expect(local.db.prepare("SELECT status, error_code FROM sync_queue WHERE record_id = 'pack-17'").get()).toEqual({ status: 'failed', error_code: 'CCM04' });
      expect(await remoteCount(db, env.systemId, 'pack')).toBe(39);
    } finally {
      await transport.close();
      local.close();
      env.cleanup();
    }
  });
});

describe('triggers and the daemon process', () => {
  faultProxyTest('runs a trigger held by a pause as soon as the pause ends', async ({ db }) => {
    const env = makeEnv({ remote: { kind: 'postgres' }, sync: { intervals: { default: 3600 } } }, { CCM_SYNC_DATABASE_URL: db.url });
    const daemon = await startDaemon(env.settings, { alertIntervalMs: 3_600_000 });
    const token = readFileSync(env.settings.paths.tokenFile, 'utf8').trim();
    // (The scheme name in lower case: HTTP says it is case-insensitive.)
    const call = (paused: boolean) => fetch(`http://127.0.0.1:${daemon.port}/api/pause`, { method: 'POST', headers: { authorization: `bearer ${token}` }, body: JSON.stringify({ paused }) });
    try {
      expect((await call(true)).status).toBe(200);
      await runCli(['enqueue', '--op', 'INSERT', '--table', 'alerts', '--id', 'held-1', '--data', '{"message":"x"}', '--priority', 'urgent'], { env: env.env });
      // The daemon sees the urgent operation within milliseconds; paused, it holds the trigger.
      await new Promise((r) => setTimeout(r, 500));
      expect((await db.query("select 1 from alerts where id = 'held-1'")).length).toBe(0);
      expect(daemon.local.outbox.pendingTotal()).toBe(1);
      expect((await call(false)).status).toBe(200);
      await until(async () => (await db.query("select 1 from alerts where id = 'held-1'")).length === 1, 'the held urgent operation on the remote', 5000);
    } finally {
      await daemon.stop();
      env.cleanup();
    }
  });

  faultProxyTest('ends a second daemon at once when its port is taken, naming the port and api.port', async ({ db }) => {
    const port = await freePort();
    const taker = (await import('node:net')).createServer();
    await new Promise<void>((r) => taker.listen(port, '127.0.0.1', () => r()));
    const env = makeEnv({ remote: { kind: 'postgres' }, api: { port } }, { CCM_SYNC_DATABASE_URL: db.url });
    try {
      const second = await runCli(['start'], { env: env.env, timeoutMs: 20_000 });
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`port ${port} on 127.0.0.1 is taken.*api.port`));
    } finally {
      await new Promise<void>((r) => taker.close(() => r()));
      env.cleanup();
    }
  });

  faultProxyTest('runs one daemon per home whatever its port, and a kill -9 leaves no stale lock', async ({ db }) => {
    const env = makeEnv({ remote: { kind: 'postgres' }, api: { port: 0 } }, { CCM_SYNC_DATABASE_URL: db.url });
    const first = await startDaemonProcess(env.env);
    try {
      const second = await runCli(['start'], { env: env.env, timeoutMs: 20_000 });
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`the ccm-sync daemon with pid ${first.child.pid} .*already runs on the home`));
      const died = new Promise<void>((r) => first.child.once('exit', () => r()));
      first.child.kill('SIGKILL');
      await died;
      const third = await startDaemonProcess(env.env);
      await third.stop();
    } finally {
      await first.stop();
      env.cleanup();
    }
  });

  faultProxyTest('stops the daemon with `ccm-sync stop`, which waits for it to exit; with none running it says so', async ({ db }) => {
    const env = makeEnv({ remote: { kind: 'postgres' }, api: { port: 0 } }, { CCM_SYNC_DATABASE_URL: db.url });
    const daemon = await startDaemonProcess(env.env);
    const exited = new Promise<number | null>((r) => daemon.child.once('exit', (code) => r(code)));
    try {
      const stop = await runCli(['stop', '--json'], { env: env.env, timeoutMs: 30_000 });
      expect(stop.code, stop.stderr).toBe(0);
      expect(JSON.parse(stop.stdout)).toEqual({ stopped: true, pid: daemon.child.pid });
      expect(await exited).toBe(0);
      const again = await runCli(['--json', 'stop'], { env: env.env });
      expect(JSON.parse(again.stdout)).toEqual({ stopped: false, running: false });
    } finally {
      await daemon.stop();
      env.cleanup();
    }
  });

  it('leaves a critical alert to its own rule: no immediate sync with immediate_on_error off', () => {
    const env = makeEnv({ sync: { event_driven: { immediate_on_error: false } } });
    const local = openLocal(env.settings);
    try {
      const off = new ThresholdWatch(env.settings.sync);
      const on = new ThresholdWatch({ ...env.settings.sync, event_driven: { ...env.settings.sync.event_driven, immediate_on_error: true } });
      off.check(local.outbox.activity());
      on.check(local.outbox.activity());
      local.recorder.record([{ operation: 'INSERT', table_name: 'alerts', record_id: 'crit', record_data: { level: 'critical', message: 'down' } }]);
      expect(off.check(local.outbox.activity())).toBeUndefined();
      expect(on.check(local.outbox.activity())?.trigger).toBe('critical_error');
      // Still first in line: a critical alert is recorded with priority urgent.
      expect(new Database(env.settings.paths.db, { readonly: true }).prepare("SELECT priority FROM sync_queue WHERE record_id = 'crit'").get()).toEqual({ priority: 'urgent' });
    } finally {
      local.close();
      env.cleanup();
    }
  });
});

