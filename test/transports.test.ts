/**
 * The same round trip through every transport against real servers: PGlite on disk (embedded),
 * and unmodified supabase-js → gateway → PostgREST 12 → Postgres (supabase). The postgres
 * transport has its own file (spine-postgres.test.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.ts';
import { openLocal, syncContext, type Local } from '../src/local.ts';
import { EmbeddedTransport } from '../src/remote/embedded.ts';
import { AccessToken } from '../src/remote/credentials.ts';
import { SupabaseTransport } from '../src/remote/supabase.ts';
import { runSync } from '../src/workers/sync-run.ts';
import { makeEnv, type TestEnv } from './helpers/env.ts';
import { anonKey, mintToken, systemToken } from './helpers/jwt.ts';
import type { Transport } from '../src/remote/transport.ts';
import { postgrestTest, type PostgrestServer, type TestDatabase } from './helpers/fixtures.ts';

function roundTrip(name: string, open: (env: TestEnv, remote: { db: TestDatabase; rest: PostgrestServer }) => Promise<{ transport: Transport; rows: (sql: string, p: unknown[]) => Promise<Record<string, unknown>[]> }>) {
  describe(`round trip: ${name}`, () => {
    let env: TestEnv;
    let local: Local;
    let transport: Transport;
    let rows: (sql: string, p: unknown[]) => Promise<Record<string, unknown>[]>;
    const clock = new ManualClock('2026-04-01T08:00:00.000Z');

    postgrestTest.beforeAll(async ({ db, rest }) => {
      env = makeEnv();
      local = openLocal(env.settings, clock);
      ({ transport, rows } = await open(env, { db, rest }));
    });
    afterAll(async () => {
      await transport.close();
      local.close();
      env.cleanup();
    });

    it('uploads in priority order, exactly once, and a second upload is a no-op', async () => {
      const { op_ids } = local.recorder.record([
        { operation: 'INSERT', table_name: 'tasks', record_id: 'a', record_data: { title: 'low' }, priority: 'low' },
        { operation: 'INSERT', table_name: 'contexts', record_id: 'c', record_data: { name: 'ctx', action: 'registered' } },
        { operation: 'INSERT', table_name: 'tasks', record_id: 'b', record_data: { title: 'urgent' }, priority: 'urgent' },
      ]);
      const ctx = syncContext(local, env.settings, transport);
      const r = await runSync(ctx, { trigger: 'manual', reason: 't', limits: { batchSize: 1 } });
      expect(r).toMatchObject({ status: 'synced', operations_synced: 3, batches: 3 });
      const ledger = await rows('select record_id from ccm_sync_ledger where system_id = $1 order by applied_at', [env.systemId]);
      expect(ledger.map((x) => x.record_id)).toEqual(['b', 'c', 'a']);
      expect((await transport.verify(op_ids.map((op_id) => ({ op_id, seq: 0 })))).missing).toEqual([]);
      const again = await transport.upload({
        system_id: env.systemId,
        sync_timestamp: new Date().toISOString(),
        operations: [{ op_id: op_ids[0]!, operation: 'INSERT', table: 'tasks', record_id: 'a', data: { title: 'changed?' }, changed_at: '2026-04-01T09:00:00.000Z', seq: 1 }],
      });
      expect(again[0]).toMatchObject({ status: 'duplicate' });
      expect((await rows('select title from tasks where system_id = $1 and id = $2', [env.systemId, 'a']))[0]!.title).toBe('low');
    });

    it('rejects one bad operation and applies the rest of the batch', async () => {
      const res = await transport.upload({
        system_id: env.systemId,
        sync_timestamp: new Date().toISOString(),
        operations: [
          { op_id: crypto.randomUUID(), operation: 'UPDATE', table: 'tasks', record_id: 'p1', data: { title: 'ok' }, changed_at: '2026-04-01T09:00:00.000Z', seq: 10 },
          { op_id: crypto.randomUUID(), operation: 'UPDATE', table: 'tasks', record_id: 'p2', data: { created_at: 'not a time' }, changed_at: '2026-04-01T09:00:00.000Z', seq: 11 },
          { op_id: crypto.randomUUID(), operation: 'UPDATE', table: 'pg_authid', record_id: 'p3', data: {}, changed_at: '2026-04-01T09:00:00.000Z', seq: 12 },
        ],
      });
      expect(res.map((r) => r.status)).toEqual(['applied', 'rejected', 'rejected']);
      expect(res[1]!.sqlstate).toBe('22007');
      expect(res[2]!.message).toMatch(/not synced by ccm-sync/);
    });
  });
}

roundTrip('embedded (PGlite)', async (env) => {
  const t = await EmbeddedTransport.open(env.settings.paths.embedded, env.systemId);
  return { transport: t, rows: async (sql, p) => (await t.query<Record<string, unknown>>(sql, p)) };
});

roundTrip('supabase (supabase-js → PostgREST → Postgres)', async (env, { db, rest }) => {
  const t = new SupabaseTransport({ url: rest.url, apiKey: await anonKey(), token: new AccessToken({ value: await systemToken(env.systemId) }), timeoutMs: 10_000 });
  return { transport: t, rows: (sql, p) => db.query(sql, p) };
});

describe('isolation through PostgREST', () => {
  postgrestTest("refuses system A's token for system B's batch, and a token without a system_id claim", async ({ db, rest }) => {
    const batch = (system: string) => ({
      system_id: system,
      sync_timestamp: new Date().toISOString(),
      operations: [{ op_id: crypto.randomUUID(), operation: 'UPDATE' as const, table: 'tasks', record_id: 'victim', data: { title: 'owned' }, changed_at: '2026-04-01T09:00:00.000Z', seq: 1 }],
    });
    const b = new SupabaseTransport({ url: rest.url, apiKey: await anonKey(), token: new AccessToken({ value: await systemToken('system-b') }), timeoutMs: 5000 });
    expect((await b.upload(batch('system-b')))[0]!.status).toBe('applied');
    const a = new SupabaseTransport({ url: rest.url, apiKey: await anonKey(), token: new AccessToken({ value: await systemToken('system-a') }), timeoutMs: 5000 });
    await expect(a.upload(batch('system-b'))).rejects.toMatchObject({ name: 'RemoteRejectedError', message: expect.stringMatching(/system-a/) });
    const noClaim = new SupabaseTransport({ url: rest.url, apiKey: await anonKey(), token: new AccessToken({ value: await mintToken({ role: 'authenticated' }) }), timeoutMs: 5000 });
    await expect(noClaim.upload(batch('system-b'))).rejects.toMatchObject({ name: 'RemoteRejectedError', message: expect.stringMatching(/no system_id claim/) });
    // Direct table access with A's token cannot touch B's row either (RLS).
    const res = await fetch(`${rest.directUrl}/tasks?system_id=eq.system-b&id=eq.victim`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${await systemToken('system-a')}`, 'content-type': 'application/json', prefer: 'return=representation' },
      body: JSON.stringify({ title: 'hijacked' }),
    });
    expect(await res.json()).toEqual([]);
    expect((await db.query<{ title: string }>("select title from tasks where system_id = 'system-b' and id = 'victim'"))[0]!.title).toBe('owned');
  });

  postgrestTest('treats a stopped PostgREST or a closed port as retryable, and a bad JWT as a refused credential', async ({ rest }) => {
    const t = new SupabaseTransport({ url: rest.url, apiKey: await anonKey(), token: new AccessToken({ value: await systemToken('system-c') }), timeoutMs: 3000 });
    await rest.stop();
    try {
      await expect(t.ping()).rejects.toMatchObject({ name: 'RemoteUnavailableError' });
    } finally {
      await rest.start();
    }
    await t.ping();
    const wrong = new SupabaseTransport({ url: 'http://127.0.0.1:9', apiKey: 'x', token: new AccessToken({ value: 'y' }), timeoutMs: 2000 });
    await expect(wrong.ping()).rejects.toMatchObject({ name: 'RemoteUnavailableError' });
    const forged = new SupabaseTransport({ url: rest.url, apiKey: await anonKey(), token: new AccessToken({ value: await mintToken({ role: 'authenticated', system_id: 'x' }, 'another-secret-that-is-32-chars-long!!') }), timeoutMs: 2000 });
    await expect(forged.ping()).rejects.toMatchObject({ name: 'CredentialRefusedError', message: expect.stringMatching(/401/) });
  });
});
