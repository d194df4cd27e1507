/**
 * The daemon end to end against a real Postgres: every trigger kind fires for the right reason and
 * is recorded in sync_metrics.trigger_type; the local API; `sync now` through the daemon.
 */
import { readFileSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../src/daemon/daemon.ts';
import { openLocal } from '../src/local.ts';
import { ThresholdWatch } from '../src/triggers/threshold.ts';
import { makeEnv, type TestEnv } from './helpers/env.ts';
import { runCli } from './helpers/cli.ts';
import { until } from './helpers/wait.ts';
import { pgTest, type TestDatabase } from './helpers/fixtures.ts';

let env: TestEnv;
let daemon: Daemon;

const triggers = () => {
  const d = new Database(env.settings.paths.db, { readonly: true });
  try {
    return (d.prepare('SELECT trigger_type FROM sync_metrics ORDER BY id').all() as { trigger_type: string }[]).map((r) => r.trigger_type);
  } finally {
    d.close();
  }
};
const api = async (method: string, path: string, payload?: string, token?: string) => {
  const t = token ?? readFileSync(env.settings.paths.tokenFile, 'utf8').trim();
  const res = await fetch(`http://127.0.0.1:${daemon.port}${path}`, { method, headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: payload });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of several shapes, asserted field by field
  const body: any = res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text();
  return { status: res.status, body };
};
const remoteCount = async (db: TestDatabase, table: string) => Number((await db.query<{ n: string }>(`select count(*) n from ${table} where system_id = $1`, [env.systemId]))[0]!.n);

pgTest.beforeAll(async ({ db }) => {
  env = makeEnv(
    {
      remote: { kind: 'postgres' },
      sync: { intervals: { default: 3600 }, thresholds: { max_pending_operations: 50, max_pending_tasks: 5, max_pending_errors: 3, max_pending_contexts: 1 } },
    },
    { CCM_SYNC_DATABASE_URL: db.url },
  );
  daemon = await startDaemon(env.settings, { alertIntervalMs: 3_600_000 });
});
afterAll(async () => {
  await daemon.stop();
  env.cleanup();
});

describe('daemon triggers', () => {
  pgTest('syncs an urgent operation enqueued by another process at once (trigger urgent)', async ({ db }) => {
    const r = await runCli(['enqueue', '--op', 'INSERT', '--table', 'alerts', '--id', 'u1', '--data', '{"message":"disk"}', '--priority', 'urgent'], { env: env.env });
    expect(r.code).toBe(0);
    await until(async () => (await db.query("select 1 from alerts where id = 'u1'")).length === 1, 'the urgent alert on the remote', 5000);
    // The remote commits before the worker settles the batch and writes the sync's metrics row.
    await until(() => triggers().includes('urgent'), 'the urgent sync in sync_metrics', 5000);
  });

  pgTest('fires threshold_tasks on the 5th pending task and threshold_total on the 50th operation', async ({ db }) => {
    for (let i = 0; i < 4; i++) daemon.local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: `t${i}`, record_data: { title: String(i) } }]);
    await new Promise((r) => setTimeout(r, 300));
    expect(triggers()).not.toContain('threshold_tasks');
    await runCli(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', 't4', '--data', '{"title":"5th"}'], { env: env.env });
    await until(() => triggers().includes('threshold_tasks'), 'threshold_tasks');
    await until(async () => (await remoteCount(db, 'tasks')) === 5, 'five tasks on the remote');
    const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ operation: 'UPDATE', table_name: 'supervisory_reports', record_id: `r${i}`, record_data: { summary: 'ok' }, priority: 'low' })).join('\n');
    await runCli(['enqueue', '--stdin'], { env: env.env, input: lines });
    await until(() => triggers().includes('threshold_total'), 'threshold_total');
    await until(async () => (await remoteCount(db, 'supervisory_reports')) === 50, 'fifty reports on the remote');
  });

  it('fires critical_error, security and context_change events', async () => {
    daemon.local.recorder.record([{ operation: 'INSERT', table_name: 'alerts', record_id: 'crit', record_data: { severity: 'critical', message: 'db down' } }]);
    await until(() => triggers().includes('critical_error'), 'critical_error');
    daemon.local.recorder.record([{ operation: 'INSERT', table_name: 'alerts', record_id: 'sec', record_data: { severity: 'warning', category: 'security', message: 'ssh brute force' } }]);
    await until(() => triggers().includes('security'), 'security');
    await runCli(['enqueue', '--op', 'INSERT', '--table', 'contexts', '--id', 'ctx1', '--data', '{"name":"repo","action":"registered"}'], { env: env.env });
    await until(() => triggers().includes('context_change'), 'context_change');
  });

  pgTest('answers sync now through the daemon from the CLI (trigger manual)', async ({ db }) => {
    daemon.local.recorder.record([{ operation: 'UPDATE', table_name: 'tasks', record_id: 'm1', record_data: { title: 'manual' }, priority: 'low' }]);
    const r = await runCli(['sync', 'now', '--json'], { env: env.env });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.via).toMatch(/daemon pid/);
    expect(out.status).toMatch(/synced|nothing_to_sync/);
    await until(async () => (await db.query("select 1 from tasks where id = 'm1'")).length === 1, 'm1 on the remote');
    await until(() => triggers().includes('manual'), 'the manual sync in sync_metrics');
  });

  it('drains through the daemon at the batch size the CLI asks for', async () => {
    daemon.local.recorder.record(Array.from({ length: 30 }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'supervisory_reports', record_id: `d${i}`, record_data: { summary: 'drain' }, priority: 'low' as const })));
    const r = await runCli(['sync', 'drain', '--batch-size', '10', '--json'], { env: env.env });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ via: expect.stringMatching(/daemon pid/), operations_synced: 30, details: { batches: 3 } });
  });

  pgTest('serves the local API behind the token, on 127.0.0.1 only', async ({ db }) => {
    expect((statSync(env.settings.paths.tokenFile).mode & 0o777).toString(8)).toBe('600');
    expect((await api('GET', '/api/sync/status', undefined, 'wrong')).status).toBe(401);
    const noAuth = await fetch(`http://127.0.0.1:${daemon.port}/api/sync/status`);
    expect(noAuth.status).toBe(401);
    const bad = await api('POST', '/api/operations', '{"operation": ');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/malformed JSON/);
    const unknown = await api('POST', '/api/operations', JSON.stringify({ operation: 'INSERT', table_name: 'nope', record_id: '1', record_data: {} }));
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatch(/unknown table/);
    const ok = await api('POST', '/api/operations', JSON.stringify([{ operation: 'INSERT', table_name: 'tasks', record_id: 'api-1', record_data: { title: 'via api' }, priority: 'urgent' }]));
    expect(ok.body).toMatchObject({ recorded: 1 });
    await until(async () => (await db.query("select 1 from tasks where id = 'api-1'")).length === 1, 'api-1 on the remote', 5000);
    const now = await api('POST', '/api/sync/now');
    expect(now.body).toHaveProperty('status');
    expect(now.body).toHaveProperty('operations_synced');
    expect(now.body).toHaveProperty('duration_ms');
    const status = await api('GET', '/api/sync/status');
    expect(status.body.daemon.port).toBe(daemon.port);
    const metrics = await api('GET', '/metrics');
    expect(metrics.body).toMatch(/ccm_sync_queue_depth\{priority="urgent"\}/);
    expect(metrics.body).toMatch(/ccm_sync_syncs_total\{trigger="manual",result="/);
    // The scheme is case-insensitive (RFC 9110), a wrong method is 405 with Allow, and a body key
    // the route does not know is refused rather than ignored.
    const token = readFileSync(env.settings.paths.tokenFile, 'utf8').trim();
    const lower = await fetch(`http://127.0.0.1:${daemon.port}/api/sync/status`, { headers: { authorization: `bearer ${token}` } });
    expect(lower.status).toBe(200);
    const wrongMethod = await api('GET', '/api/sync/now');
    expect(wrongMethod.status).toBe(405);
    const allow = await fetch(`http://127.0.0.1:${daemon.port}/api/sync/now`, { headers: { authorization: `Bearer ${token}` } });
    expect(allow.headers.get('allow')).toBe('POST');
    const extra = await api('POST', '/api/offline', JSON.stringify({ duration_ms: 10, durationMs: 10 }));
    expect(extra.status).toBe(400);
    expect(extra.body.error).toMatch(/durationMs/);
    expect((await api('GET', '/api/nope')).status).toBe(404);
    const leaked = `${JSON.stringify(status.body)}${metrics.body}`;
    expect(leaked).not.toContain(readFileSync(env.settings.paths.tokenFile, 'utf8').trim());
    expect(leaked).not.toContain(db.url);
  });

  pgTest('coalesces a 10,000-operation burst into a few sync jobs', async ({ db }) => {
    const before = triggers().length;
    const lines = Array.from({ length: 10_000 }, (_, i) => JSON.stringify({ operation: 'INSERT', table_name: 'tasks', record_id: `burst-${i}`, record_data: { title: 'b' } }));
    for (let i = 0; i < 10_000; i += 500) await runCli(['enqueue', '--stdin'], { env: env.env, input: lines.slice(i, i + 500).join('\n') });
    await until(async () => (await remoteCount(db, 'tasks')) >= 10_000, 'the burst on the remote', 60_000, 200);
    await until(() => daemon.local.outbox.pendingTotal() === 0 && triggers().length > before, 'the burst settled and its syncs in sync_metrics');
    const syncs = triggers().length - before;
    expect(syncs).toBeGreaterThan(0);
    expect(syncs).toBeLessThan(25); // 20 enqueue calls crossed the thresholds 200 times
  });
});

describe('threshold watch on a real outbox', () => {
  it('fires for an urgent operation recorded while a sync settles another one (pending count unchanged)', () => {
    const own = makeEnv();
    const local = openLocal(own.settings);
    try {
      const watch = new ThresholdWatch(own.settings.sync);
      const urgent = (id: string) => ({ operation: 'INSERT' as const, table_name: 'system_status', record_id: id, record_data: { state: 'online' }, priority: 'urgent' as const });
      local.recorder.record([urgent('a')]);
      expect(watch.check(local.outbox.activity())?.trigger).toBe('urgent');
      // Between two looks: the sync settles a, and b is recorded. One urgent op pending before and after.
      const a = local.outbox.page(Date.now(), 10)[0]!;
      local.db.transaction(() => local.outbox.settle([{ kind: 'synced', row: a, result: 'applied' }], new Date().toISOString()))();
      local.recorder.record([urgent('b')]);
      const now = local.outbox.activity();
      expect(now.pending.urgent).toBe(1);
      expect(watch.check(now)?.trigger).toBe('urgent');
      // Nothing new: nothing fires, and a settle alone never fires.
      expect(watch.check(local.outbox.activity())).toBeUndefined();
      const b = local.outbox.page(Date.now(), 10)[0]!;
      local.db.transaction(() => local.outbox.settle([{ kind: 'synced', row: b, result: 'applied' }], new Date().toISOString()))();
      expect(watch.check(local.outbox.activity())).toBeUndefined();
      // recount (startup, pruning) keeps the ever-recorded counts.
      local.outbox.recount();
      expect(local.outbox.activity().recorded.urgent).toBe(2);
      // A daemon starting on this history, with nothing pending, fires nothing.
      expect(new ThresholdWatch(own.settings.sync).check(local.outbox.activity())).toBeUndefined();
    } finally {
      local.close();
      own.cleanup();
    }
  });
});
