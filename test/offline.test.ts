/**
 * Offline and faults with real means: a TCP proxy we cut, reset and black-hole between the daemon
 * and a real Postgres. Online → offline → (probe) → draining → online, nothing lost or doubled.
 */
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { describe, expect } from 'vitest';
import { startDaemon } from '../src/daemon/daemon.ts';
import { createLogger } from '../src/log.ts';
import { makeEnv } from './helpers/env.ts';
import { until } from './helpers/wait.ts';
import { faultProxyTest, viaProxy, type FaultProxy, type TestDatabase } from './helpers/fixtures.ts';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, log: createLogger('info', stream) };
}

const faultEnv = ({ db, proxy }: { db: TestDatabase; proxy: FaultProxy }, extra: Record<string, unknown> = {}) =>
  makeEnv(
    {
      remote: { kind: 'postgres' },
      offline: { failures_before_offline: 2, probe_initial_ms: 200, probe_max_ms: 800 },
      sync: { request_timeout_ms: 1500, retry: { base_delay_ms: 100, max_delay_ms: 400, jitter: 0.1, job_attempts: 10 }, intervals: { default: 3600 } },
      ...extra,
    },
    { CCM_SYNC_DATABASE_URL: viaProxy(db, proxy) },
  );

const pendingOf = (file: string) => {
  const d = new Database(file, { readonly: true });
  try {
    return (d.prepare("SELECT count(*) AS n FROM sync_queue WHERE status = 'pending'").get() as { n: number }).n;
  } finally {
    d.close();
  }
};

describe('connection state machine', () => {
  faultProxyTest('goes offline when the link is cut, keeps queueing, and drains everything once the link returns', async ({ db, proxy }) => {
    const env = faultEnv({ db, proxy });
    const { lines, log } = capture();
    const daemon = await startDaemon(env.settings, { log });
    try {
      proxy.cut();
      daemon.local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: 'off-0', record_data: { title: 'first' }, priority: 'urgent' }]);
      await until(() => daemon.local.state.get('connection')?.state === 'offline', 'offline state', 10_000);
      const conn = daemon.local.state.get('connection')!;
      expect(conn.reason).toMatch(/unreachable|ECONNRESET|ECONNREFUSED|terminated/i);
      expect(conn.next_probe_at).toBeDefined();
      const ops = Array.from({ length: 300 }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: `off-${i + 1}`, record_data: { title: `queued ${i}` } }));
      for (let i = 0; i < ops.length; i += 60) daemon.local.recorder.record(ops.slice(i, i + 60));
      await new Promise((r) => setTimeout(r, 1000));
      expect(pendingOf(env.settings.paths.db)).toBeGreaterThanOrEqual(301);
      const failedSyncs = daemon.local.db.prepare('SELECT count(*) AS n FROM sync_metrics WHERE success = 0').get() as { n: number };
      expect(failedSyncs.n).toBeLessThan(10); // skipped while offline, not piled up

      proxy.restore();
      await until(() => pendingOf(env.settings.paths.db) === 0 && daemon.local.state.get('connection')?.state === 'online', 'drained and online', 20_000);
      expect(lines.some((l) => /Connection restored, draining \d+ operations/.test(l))).toBe(true);
      const remote = await db.query<{ n: string }>("select count(*) n from tasks where system_id = $1 and id like 'off-%'", [env.systemId]);
      expect(Number(remote[0]!.n)).toBe(301);
      const states = await db.query<{ state: string }>('select state from system_status where system_id = $1 order by since', [env.systemId]);
      expect(states.map((s) => s.state)).toEqual(expect.arrayContaining(['offline', 'draining', 'online']));
    } finally {
      proxy.restore();
      await daemon.stop();
      env.cleanup();
    }
  });

  faultProxyTest('times out a black-holed connection, backs off, and finishes when the remote answers again', async ({ db, proxy }) => {
    const env = faultEnv({ db, proxy }, { offline: { failures_before_offline: 100, probe_initial_ms: 200, probe_max_ms: 800 } });
    const daemon = await startDaemon(env.settings);
    try {
      proxy.mode = 'blackhole';
      proxy.resetAll();
      daemon.local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: 'bh-1', record_data: { title: 'x' }, priority: 'urgent' }]);
      await until(() => (daemon.local.db.prepare('SELECT count(*) AS n FROM sync_metrics WHERE success = 0').get() as { n: number }).n >= 2, 'two timed-out attempts', 15_000);
      const err = daemon.local.state.get('last_sync')!.error!;
      expect(err).toMatch(/timed out|timeout|terminated|unreachable/i);
      proxy.restore();
      proxy.resetAll();
      await until(async () => (await db.query("select 1 from tasks where id = 'bh-1'")).length === 1, 'bh-1 on the remote', 20_000);
      await until(() => pendingOf(env.settings.paths.db) === 0, 'bh-1 settled locally', 10_000);
    } finally {
      proxy.restore();
      await daemon.stop();
      env.cleanup();
    }
  });
});
