/**
 * One system id, one installation (src/remote/identity.ts): a second machine that syncs as a system
 * id another installation already uses is refused before it uploads anything (it would overwrite
 * the first one's records), keeps every operation queued, and says how to fix it; `sync takeover`
 * hands the id over, after which the first installation is the one refused. A restored copy of a
 * database carries its installation and is not refused (test/remote-limits.test.ts, CCM01). The
 * check reads the system's own row as the system: through PostgREST too.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect } from 'vitest';
import { openLocal, syncContext } from '../src/local.ts';
import { heartbeatOf } from '../src/monitor/heartbeat.ts';
import { AccessToken } from '../src/remote/credentials.ts';
import { holderOf, installationOf } from '../src/remote/identity.ts';
import { SupabaseTransport } from '../src/remote/supabase.ts';
import { runSync } from '../src/workers/sync-run.ts';
import { runCli } from './helpers/cli.ts';
import { startDaemonProcess } from './helpers/daemon-process.ts';
import { makeEnv } from './helpers/env.ts';
import { postgrestTest } from './helpers/fixtures.ts';
import { anonKey, systemToken } from './helpers/jwt.ts';

describe('two installations with one system id', () => {
  postgrestTest('the second is refused and keeps its operations; a takeover hands the id over', async ({ db }) => {
    const id = `shared-${randomBytes(3).toString('hex')}`;
    const url = { CCM_SYNC_DATABASE_URL: db.url };
    const a = makeEnv({ system: { id }, remote: { kind: 'postgres' } }, url);
    const b = makeEnv({ system: { id }, remote: { kind: 'postgres' } }, url);
    const titles = async () => (await db.query<{ id: string; title: string }>('select id, title from tasks where system_id = $1 order by id', [id])).map((r) => `${r.id}:${r.title}`);
    const enqueue = (env: typeof a, rid: string, title: string) => runCli(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', rid, '--data', JSON.stringify({ title })], { env: env.env });
    try {
      await enqueue(a, '1', 'from A');
      expect((await runCli(['sync', 'now'], { env: a.env })).code).toBe(0);

      await enqueue(b, '1', 'from B');
      const refused = await runCli(['sync', 'now'], { env: b.env });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(new RegExp(`system id ${id} is in use on the remote by another installation .*nothing was uploaded.*own system\\.id.*ccm-sync sync takeover`));
      expect(await titles()).toEqual(['1:from A']);
      const doctor = JSON.parse((await runCli(['doctor', '--json'], { env: b.env })).stdout) as { checks: { name: string; level: string; fix?: string }[] };
      expect(doctor.checks.find((c) => c.name === 'installation')).toMatchObject({ level: 'fail', fix: expect.stringMatching(/sync takeover/) });
      const status = JSON.parse((await runCli(['sync', 'status', '--json'], { env: b.env })).stdout);
      expect(status.pending.total).toBe(1);
      expect(status.last_sync).toMatchObject({ success: false, error: expect.stringMatching(/in use on the remote by another installation/) });

      // Through B's daemon the same: refused, exit 2.
      const daemon = await startDaemonProcess(b.env);
      try {
        const via = await runCli(['sync', 'now', '--json'], { env: b.env });
        expect(via.code).toBe(2);
        expect(JSON.parse(via.stdout)).toMatchObject({ status: 'failed', via: expect.stringMatching(/daemon pid/), details: { error: expect.stringMatching(/in use on the remote by another installation/) } });
      } finally {
        await daemon.stop();
      }
      expect(await titles()).toEqual(['1:from A']);

      const takeover = await runCli(['sync', 'takeover', '--json'], { env: b.env });
      expect(takeover.code, takeover.stderr).toBe(0);
      expect(JSON.parse(takeover.stdout)).toMatchObject({ taken_over: true, system_id: id, from: { instance: expect.any(String) } });
      // The remote's row names B at once (A, checking now, is refused before B has synced).
      const named = await db.query<{ instance: string }>("select heartbeat->>'instance' as instance from ccm_sync_systems where system_id = $1", [id]);
      expect(named[0]!.instance).not.toBe(JSON.parse(takeover.stdout).from.instance);
      expect((await runCli(['sync', 'now'], { env: b.env })).code).toBe(0);
      expect(await titles()).toEqual(['1:from B']);

      // Now A is the one refused, and its operation waits.
      await enqueue(a, '2', 'A again');
      expect((await runCli(['sync', 'now'], { env: a.env })).code).toBe(2);
      expect(await titles()).toEqual(['1:from B']);
      expect(JSON.parse((await runCli(['doctor', '--json'], { env: b.env })).stdout).checks.find((c: { name: string }) => c.name === 'installation')).toMatchObject({ level: 'ok' });
      // Nothing to take over where the remote names this installation.
      expect(JSON.parse((await runCli(['sync', 'takeover', '--json'], { env: b.env })).stdout)).toMatchObject({ taken_over: false });
    } finally {
      a.cleanup();
      b.cleanup();
    }
  });

  postgrestTest('the check reads the system\'s own row through PostgREST, as the system', async ({ rest }) => {
    const env = makeEnv();
    const local = openLocal(env.settings);
    const transport = new SupabaseTransport({ url: rest.url, apiKey: await anonKey(), token: new AccessToken({ value: await systemToken(env.systemId) }), systemId: env.systemId, timeoutMs: 10_000 });
    try {
      expect(await transport.ownHeartbeat()).toBeNull();
      local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: 'x', record_data: { title: 'x' } }]);
      expect(await runSync(syncContext(local, env.settings, transport, { heartbeat: () => heartbeatOf(local, env.settings) }), { trigger: 'manual', reason: 'test' })).toMatchObject({ operations_synced: 1 });
      expect(holderOf(await transport.ownHeartbeat())).toMatchObject({ instance: installationOf(local.state).instance });
    } finally {
      local.close();
      env.cleanup();
    }
  });
});
