/**
 * What the remote bounds and refuses: a batch the statement timeout cancels is split until it fits
 * (and one operation too slow even alone is dead-lettered); the ledger stays flat with pruning on;
 * a restored, older copy of the local database cannot apply its old operations again; and the
 * tables live in the schema `remote.schema` names, through the postgres transport and PostgREST.
 */
import { copyFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.ts';
import { openLocal, syncContext, type Local } from '../src/local.ts';
import { PostgresTransport } from '../src/remote/postgres.ts';
import { AccessToken } from '../src/remote/credentials.ts';
import { SupabaseTransport } from '../src/remote/supabase.ts';
import { runSync } from '../src/workers/sync-run.ts';
import { makeEnv, type TestEnv } from './helpers/env.ts';
import { anonKey, systemToken } from './helpers/jwt.ts';
import { runCli } from './helpers/cli.ts';
import { startPostgrest } from './helpers/postgrest.ts';
import type { Transport } from '../src/remote/transport.ts';
import { pgTest } from './helpers/fixtures.ts';
import { createTestDatabase } from './helpers/pg.ts';

/** Counts the calls a transport makes. */
function counting(t: Transport): { transport: Transport; calls: () => number } {
  let n = 0;
  const upload = t.upload.bind(t);
  t.upload = (b, s) => {
    n++;
    return upload(b, s);
  };
  return { transport: t, calls: () => n };
}

describe('statement timeouts shrink the batch', () => {
  pgTest.beforeAll(async ({ db }) => {
    // A real slow apply: a trigger that sleeps per row, far longer for one record.
    await db.query(`create function ccm_test_slow() returns trigger language plpgsql as $$
      begin perform pg_sleep(case when new.summary = 'very slow' then 0.8 else 0.02 end); return new; end $$`);
    await db.query('create trigger ccm_test_slow before insert on supervisory_reports for each row execute function ccm_test_slow()');
  });
  pgTest.afterAll(async ({ db }) => {
    await db.query('drop trigger ccm_test_slow on supervisory_reports; drop function ccm_test_slow()');
  });

  pgTest('splits a batch the remote cancels (57014) until its parts fit, and dead-letters one too slow alone', async ({ db }) => {
    const env = makeEnv({ sync: { max_ops_per_request: 100 } });
    const local = openLocal(env.settings);
    const { transport, calls } = counting(new PostgresTransport({ connectionString: db.url, systemId: env.systemId, timeoutMs: 500 }));
    try {
      local.recorder.record(Array.from({ length: 40 }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'supervisory_reports', record_id: `slow-${i}`, record_data: { summary: i === 7 ? 'very slow' : 'slow' } })));
      const r = await runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 'test' });
      expect(r).toMatchObject({ operations_synced: 39, operations_failed: 1 });
      expect(calls()).toBeGreaterThan(2);
      const landed = await db.query<{ n: string }>('select count(*) n from supervisory_reports where system_id = $1', [env.systemId]);
      expect(Number(landed[0]!.n)).toBe(39);
      const dead = local.db.prepare("SELECT status, error_code, error_message FROM sync_queue WHERE record_id = 'slow-7'").get() as { status: string; error_code: string; error_message: string };
      expect(dead).toMatchObject({ status: 'failed', error_code: 'CCM02' });
      expect(dead.error_message).toMatch(/statement timeout \(57014\) cancelled this operation even when it was sent alone/);
    } finally {
      await transport.close();
      local.close();
      env.cleanup();
    }
  });

  pgTest('does the same through PostgREST, with the timeout set the way a Supabase project sets it for the Data API', async ({ db }) => {
    // PostgREST applies a function's own statement_timeout to the request (as it does a role's).
    await db.query("alter function batch_sync(jsonb) set statement_timeout = '500ms'");
    const rest = await startPostgrest(db);
    const env = makeEnv({ sync: { max_ops_per_request: 100 } });
    const local = openLocal(env.settings);
    const { transport, calls } = counting(new SupabaseTransport({ url: rest.url, apiKey: await anonKey(), token: new AccessToken({ value: await systemToken(env.systemId) }), timeoutMs: 10_000 }));
    try {
      local.recorder.record(Array.from({ length: 40 }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'supervisory_reports', record_id: `rest-${i}`, record_data: { summary: 'slow' } })));
      const r = await runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 'test' });
      expect(r).toMatchObject({ operations_synced: 40, operations_failed: 0 });
      expect(calls()).toBeGreaterThan(1);
    } finally {
      await db.query('alter function batch_sync(jsonb) reset statement_timeout');
      await rest.close();
      local.close();
      env.cleanup();
    }
  });
});

describe('a bounded ledger', () => {
  pgTest('stays flat over a long drain with pruning on, and verification tells pruned from missing', async ({ db }) => {
    const env = makeEnv({ remote: { prune_interval_minutes: 0 }, sync: { max_ops_per_request: 100, page_size: 200 } });
    const local = openLocal(env.settings);
    const transport = new PostgresTransport({ connectionString: db.url, systemId: env.systemId, timeoutMs: 10_000 });
    const ledger = async () => Number((await db.query<{ n: string }>('select count(*) n from ccm_sync_ledger where system_id = $1', [env.systemId]))[0]!.n);
    try {
      const sizes: number[] = [];
      const ids: string[] = [];
      for (let round = 0; round < 6; round++) {
        ids.push(...local.recorder.record(Array.from({ length: 500 }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: `l-${round}-${i}`, record_data: { title: 't' } }))).op_ids);
        await runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 'round' });
        sizes.push(await ledger());
      }
      // 3,000 operations went up; the ledger keeps only what the last batches need: those not
      // settled locally yet (up to 200 operations wait for one local commit, sync-run.ts), the
      // batch on the wire and the one before it.
      expect(Math.max(...sizes)).toBeLessThanOrEqual(400);
      const [sys] = await db.query<{ settled_through: string; pruned_through: string }>('select * from ccm_sync_systems where system_id = $1', [env.systemId]);
      expect(Number(sys!.pruned_through)).toBeGreaterThan(2500);
      const v = await transport.verify([{ op_id: ids[0]!, seq: 1 }, { op_id: crypto.randomUUID(), seq: 1e9 }]);
      expect(v).toEqual({ pruned: [ids[0]], missing: [expect.any(String)] });
    } finally {
      await transport.close();
      local.close();
      env.cleanup();
    }
  });

  pgTest('refuses a restored copy\'s old operations (CCM01), and numbers new ones above the watermark', async ({ db }) => {
    const env = makeEnv({ remote: { prune_interval_minutes: 0 } });
    const clock = new ManualClock('2026-05-01T10:00:00.000Z');
    let local: Local = openLocal(env.settings, clock);
    const transport = new PostgresTransport({ connectionString: db.url, systemId: env.systemId, timeoutMs: 10_000 });
    const backup = `${env.settings.paths.db}.backup`;
    try {
      local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: 'r', record_data: { title: 'before the backup' } }]);
      local.db.exec(`VACUUM INTO '${backup}'`);
      clock.advance(60_000);
      local.recorder.record([{ operation: 'UPDATE', table_name: 'tasks', record_id: 'r', record_data: { title: 'after the backup' } }]);
      for (let i = 0; i < 3; i++) {
        await runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 'sync' });
        local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: `more-${i}`, record_data: { title: 'more' } }]);
      }
      await runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 'sync' });
      local.close();
      // The machine is restored from the backup: its one operation was applied and pruned since.
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${env.settings.paths.db}${suffix}`, { force: true });
      copyFileSync(backup, env.settings.paths.db);
      local = openLocal(env.settings, clock);
      const r = await runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 'after restore' });
      expect(r).toMatchObject({ operations_failed: 1, operations_synced: 0 });
      const row = local.db.prepare("SELECT status, error_code, error_message FROM sync_queue WHERE record_id = 'r'").get() as { status: string; error_code: string; error_message: string };
      expect(row).toMatchObject({ status: 'failed', error_code: 'CCM01' });
      expect(row.error_message).toMatch(/settled watermark \d+.*restored from an older copy/);
      expect((await db.query<{ title: string }>("select title from tasks where system_id = $1 and id = 'r'", [env.systemId]))[0]!.title).toBe('after the backup');
      // New work after the restore is numbered above the watermark and goes up.
      local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: 'new', record_data: { title: 'new' } }]);
      expect((await runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 'new' })).operations_synced).toBe(1);
    } finally {
      await transport.close();
      local.close();
      env.cleanup();
    }
  });
});

describe('tables in their own schema (remote.schema)', () => {
  it('migrates into the schema, and syncs there through the postgres transport and through PostgREST', async () => {
    const sdb = await createTestDatabase('ccm_schema', { schema: 'ccm_app' });
    const rest = await startPostgrest(sdb, { schemas: 'ccm_app' });
    try {
      expect((await sdb.query<{ n: string }>("select count(*) n from information_schema.tables where table_schema = 'public' and table_name = 'tasks'"))[0]!.n).toBe('0');
      for (const [name, open] of [
        ['postgres', (sys: string) => new PostgresTransport({ connectionString: sdb.url, systemId: sys, timeoutMs: 10_000, schema: 'ccm_app' })],
        ['supabase', async (sys: string) => new SupabaseTransport({ url: rest.url, apiKey: await anonKey(), token: new AccessToken({ value: await systemToken(sys) }), timeoutMs: 10_000, schema: 'ccm_app' })],
      ] as const) {
        const env: TestEnv = makeEnv({ remote: { schema: 'ccm_app' } });
        const local = openLocal(env.settings);
        const transport = await open(env.systemId);
        try {
          local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: name, record_data: { title: `via ${name}` } }]);
          expect((await runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: name })).operations_synced).toBe(1);
          expect((await sdb.query<{ title: string }>('select title from ccm_app.tasks where system_id = $1', [env.systemId]))[0]!.title).toBe(`via ${name}`);
        } finally {
          await transport.close();
          local.close();
          env.cleanup();
        }
      }
      const env = makeEnv();
      try {
        const sql = await runCli(['remote', 'sql', '--schema', 'ccm_app'], { env: env.env });
        expect(sql.code).toBe(0);
        expect(sql.stdout).toMatch(/create schema if not exists ccm_app/);
        expect(sql.stdout).toMatch(/function ccm_app\.batch_sync/);
        expect(sql.stdout).not.toMatch(/public\.batch_sync/);
      } finally {
        env.cleanup();
      }
      // What arrived, as the README shows it, says where the tables are; a schema not migrated says to migrate.
      for (const [schema, args, why] of [
        ['ccm_app', ['remote', 'query', 'select id from tasks'], /relation "tasks" does not exist; the synced tables are in schema ccm_app \(remote\.schema\): write ccm_app\.tasks/],
        ['not_migrated', ['sync', 'now'], /schema "not_migrated" does not exist.*ccm-sync remote migrate/],
      ] as const) {
        const look = makeEnv({ remote: { kind: 'postgres', schema } }, { CCM_SYNC_DATABASE_URL: sdb.url });
        try {
          await runCli(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', 'q', '--data', '{}'], { env: look.env });
          const r = await runCli([...args], { env: look.env });
          expect(r.code, r.stderr).not.toBe(0);
          expect(r.stderr).toMatch(why);
        } finally {
          look.cleanup();
        }
      }
    } finally {
      await rest.close();
      await sdb.drop();
    }
  });
});
