/**
 * Upgrading a remote in place: a database at the schema of the first three migrations, with data,
 * a ledger and tombstones written by that schema's batch_sync, takes the new migration (twice),
 * keeps everything, and keeps syncing exactly once under the new rules. On plain Postgres (a
 * superuser migrates), on PGlite, and on a Supabase-like role setup (a migrator that is not a
 * superuser, but has CREATEROLE and owns the database, as `postgres` does on Supabase).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_SQL } from '../src/remote/bootstrap.ts';
import { EmbeddedTransport } from '../src/remote/embedded.ts';
import { migrateRemote, migrationFiles, type SqlRunner } from '../src/remote/migrations.ts';
import { PostgresTransport } from '../src/remote/postgres.ts';
import { pgUrl } from './helpers/pg.ts';
import type { Transport } from '../src/remote/transport.ts';
import type { WireOperation } from '../src/types.ts';

const OLD = migrationFiles().slice(0, 3);
const NEW = migrationFiles().slice(3);
const SYS = 'upgrade-sys';
const T = (s: number) => new Date(Date.parse('2026-05-01T10:00:00.000Z') + s * 1000).toISOString();

/** Applies the first three migrations and records them, as `remote migrate` of that day did. */
async function migrateOld(db: SqlRunner, bootstrap: boolean): Promise<void> {
  if (bootstrap) await db.exec(BOOTSTRAP_SQL);
  await db.exec('create table if not exists public.ccm_schema_migrations (version text primary key, applied_at timestamptz not null default now())');
  for (const m of OLD) await db.exec(`${m.sql}\ninsert into public.ccm_schema_migrations (version) values ('${m.version}');`);
}

const opsBefore = {
  a: { op_id: crypto.randomUUID(), operation: 'INSERT', table: 'tasks', record_id: 't1', data: { title: 'old title', status: 'open' }, changed_at: T(10), seq: 1 },
  b: { op_id: crypto.randomUUID(), operation: 'INSERT', table: 'alerts', record_id: 'al1', data: { message: 'disk' }, changed_at: T(10), seq: 2 },
  c: { op_id: crypto.randomUUID(), operation: 'DELETE', table: 'tasks', record_id: 'gone', data: {}, changed_at: T(10), seq: 3 },
} as const;

/** Uploads with the old schema's batch_sync, as that day's transport did (role and claims, then the call). */
async function oldUpload(pool: pg.Pool): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('begin');
    await c.query("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)", [JSON.stringify({ role: 'authenticated', system_id: SYS })]);
    await c.query('select public.batch_sync($1::jsonb)', [JSON.stringify({ system_id: SYS, sync_timestamp: T(11), operations: Object.values(opsBefore) })]);
    await c.query('commit');
  } finally {
    c.release();
  }
}

const op = (o: Partial<WireOperation>): WireOperation => ({ op_id: crypto.randomUUID(), operation: 'UPDATE', table: 'tasks', record_id: 't1', data: {}, changed_at: T(20), seq: 10, ...o });

/** What must hold after the upgrade, through the new transport. */
async function checkUpgraded(t: Transport, rows: (sql: string, p?: unknown[]) => Promise<Record<string, unknown>[]>): Promise<void> {
  // Old data, ledger and tombstones are all there.
  expect((await rows("select title, status from tasks where system_id = $1 and id = 't1'", [SYS]))[0]).toEqual({ title: 'old title', status: 'open' });
  expect((await rows('select count(*)::int as n from ccm_sync_ledger where system_id = $1', [SYS]))[0]!.n).toBe(3);
  expect((await rows("select count(*)::int as n from ccm_tombstones where system_id = $1 and record_id = 'gone'", [SYS]))[0]!.n).toBe(1);
  const up = (ops: WireOperation[]) => t.upload({ system_id: SYS, sync_timestamp: new Date().toISOString(), operations: ops, settled_through: 0 });
  // An operation applied before the upgrade is still a duplicate: nothing applies twice.
  expect((await up([opsBefore.a as unknown as WireOperation]))[0]).toMatchObject({ status: 'duplicate', first_status: 'applied' });
  // Every column of an old row has the row's version: older writes lose, newer ones win, per column.
  const older = op({ data: { status: 'older' }, changed_at: T(5), seq: 11 });
  const newer = op({ data: { title: 'new title' }, changed_at: T(20), seq: 12 });
  expect((await up([older, newer])).map((r) => r.status)).toEqual(['stale', 'applied']);
  expect((await rows("select title, status from tasks where system_id = $1 and id = 't1'", [SYS]))[0]).toEqual({ title: 'new title', status: 'open' });
  // The old tombstone still holds off an older write, and a new operation applies once.
  expect((await up([op({ record_id: 'gone', data: { title: 'zombie' }, changed_at: T(1), seq: 13 })]))[0]!.status).toBe('stale');
  const fresh = op({ record_id: 't2', operation: 'INSERT', data: { title: 'after' }, seq: 14 });
  expect((await up([fresh]))[0]!.status).toBe('applied');
  expect((await up([fresh]))[0]!.status).toBe('duplicate');
}

describe('upgrading a remote in place', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function freshDatabase(owner?: string): Promise<{ name: string; admin: pg.Pool }> {
    const name = `ccm_upg_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Pool({ connectionString: pgUrl('postgres'), max: 1 });
    await admin.query(`create database ${name}${owner ? ` owner ${owner}` : ''}`);
    cleanups.push(async () => {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    });
    return { name, admin };
  }

  it('on plain Postgres, migrated by a superuser, applied twice', async () => {
    const { name } = await freshDatabase();
    const pool = new pg.Pool({ connectionString: pgUrl(name), max: 2 });
    pool.on('error', () => undefined);
    const runner: SqlRunner = { exec: async (sql) => void (await pool.query(sql)), query: async <R>(sql: string, p?: unknown[]) => (await pool.query(sql, p)).rows as R[] };
    await migrateOld(runner, true);
    await oldUpload(pool);
    expect(await migrateRemote(runner)).toEqual(NEW.map((m) => m.version));
    for (const m of NEW) await runner.exec(m.sql); // applied a second time: no harm
    expect(await migrateRemote(runner)).toEqual([]);
    const t = new PostgresTransport({ connectionString: pgUrl(name), systemId: SYS, timeoutMs: 10_000 });
    try {
      await checkUpgraded(t, async (sql, p) => (await pool.query(sql, p)).rows);
    } finally {
      await t.close();
      await pool.end();
    }
  });

  it('on a Supabase-like setup: the migrator is no superuser, only CREATEROLE and the database owner', async () => {
    const admin = new pg.Pool({ connectionString: pgUrl('postgres'), max: 1 });
    await admin.query(`do $$ begin
        if not exists (select 1 from pg_roles where rolname = 'ccm_supa_admin') then create role ccm_supa_admin login createrole; end if;
        if not exists (select 1 from pg_roles where rolname = 'ccm_supa_authenticator') then create role ccm_supa_authenticator login noinherit; end if;
      exception when duplicate_object or unique_violation then null; end $$`);
    await admin.end();
    const { name } = await freshDatabase('ccm_supa_admin');
    // What Supabase provides, made by a superuser: the API roles, auth.jwt(), an authenticator.
    const su = new pg.Pool({ connectionString: pgUrl(name), max: 1 });
    await su.query(BOOTSTRAP_SQL);
    await su.query('grant anon, authenticated, service_role to ccm_supa_authenticator; grant usage on schema auth to ccm_supa_admin');
    await su.end();
    const url = `postgres://ccm_supa_admin@127.0.0.1:5432/${name}`;
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on('error', () => undefined);
    const runner: SqlRunner = { exec: async (sql) => void (await pool.query(sql)), query: async <R>(sql: string, p?: unknown[]) => (await pool.query(sql, p)).rows as R[] };
    expect((await pool.query<{ s: boolean }>('select rolsuper as s from pg_roles where rolname = current_user')).rows[0]!.s).toBe(false);
    await migrateOld(runner, false);
    const api = new pg.Pool({ connectionString: `postgres://ccm_supa_authenticator@127.0.0.1:5432/${name}`, max: 1 });
    api.on('error', () => undefined);
    cleanups.push(async () => {
      await api.end().catch(() => undefined);
      await pool.end().catch(() => undefined);
    });
    await oldUpload(api);
    expect(await migrateRemote(runner, { bootstrap: false })).toEqual(NEW.map((m) => m.version));
    for (const m of NEW) await runner.exec(m.sql);
    const t = new PostgresTransport({ connectionString: `postgres://ccm_supa_authenticator@127.0.0.1:5432/${name}`, systemId: SYS, timeoutMs: 10_000 });
    try {
      await checkUpgraded(t, async (sql, p) => (await pool.query(sql, p)).rows);
    } finally {
      await t.close();
      await api.end();
      await pool.end();
    }
  });

  it.each([
    ['the set-based batch_sync', '20261204000000'],
    ['compact answers', '20261207000000'],
  ])('from the day before %s: every row, version, clock, ledger entry and tombstone kept', async (_, version) => {
    const { name } = await freshDatabase();
    const pool = new pg.Pool({ connectionString: pgUrl(name), max: 2 });
    pool.on('error', () => undefined);
    const runner: SqlRunner = { exec: async (sql) => void (await pool.query(sql)), query: async <R>(sql: string, p?: unknown[]) => (await pool.query(sql, p)).rows as R[] };
    const before = migrationFiles().filter((m) => m.version < version);
    const setBased = migrationFiles().filter((m) => m.version >= version);
    await runner.exec(BOOTSTRAP_SQL);
    await runner.exec('create table if not exists public.ccm_schema_migrations (version text primary key, applied_at timestamptz not null default now())');
    for (const m of before) await runner.exec(`${m.sql}\ninsert into public.ccm_schema_migrations (version) values ('${m.version}');`);
    const t = new PostgresTransport({ connectionString: pgUrl(name), systemId: SYS, timeoutMs: 10_000 });
    const up = async (ops: WireOperation[]) => (await t.upload({ system_id: SYS, sync_timestamp: new Date().toISOString(), operations: ops, settled_through: 0 })).map((r) => r.status);
    try {
      // Yesterday's batch_sync writes every kind of state: new rows, partial updates (per-column
      // clocks), a key that names no column (extra), a summary standing for its hook events,
      // deletes (tombstones, one of them keeping newer columns), and a direct edit on the remote.
      const events = [crypto.randomUUID(), crypto.randomUUID()];
      expect(await up([
        op({ operation: 'INSERT', record_id: 'k1', data: { title: 'one', status: 'open', priority: 'low' }, changed_at: T(1), seq: 1 }),
        op({ operation: 'INSERT', record_id: 'k2', data: { title: 'two', status: 'open' }, changed_at: T(1), seq: 2 }),
        op({ operation: 'INSERT', table: 'alerts', record_id: 'a1', data: { message: 'disk', not_a_column: 7 }, changed_at: T(1), seq: 3 }),
        op({ operation: 'INSERT', table: 'task_summaries', record_id: 's1', data: { task_id: 'k1', total_events: 2 }, changed_at: T(1), seq: 4, source_ids: events } as Partial<WireOperation>),
        op({ record_id: 'k1', data: { status: 'doing' }, changed_at: T(3), seq: 5 }),
        op({ operation: 'DELETE', record_id: 'k2', changed_at: T(4), seq: 6 }),
        op({ operation: 'INSERT', record_id: 'k3', data: { title: 'three' }, changed_at: T(9), seq: 7 }),
        op({ operation: 'DELETE', record_id: 'k3', changed_at: T(5), seq: 8 }),
      ])).toEqual(['applied', 'applied', 'applied', 'applied', 'applied', 'applied', 'applied', 'applied']);
      await pool.query("update tasks set priority = 'high' where system_id = $1 and id = 'k1'", [SYS]);
      const snapshot = async () => {
        const out: Record<string, unknown> = {};
        for (const tbl of ['tasks', 'alerts', 'task_summaries', 'ccm_tombstones', 'ccm_sync_ledger', 'ccm_sync_systems']) {
          out[tbl] = (await pool.query(`select to_jsonb(x) as r from ${tbl} x order by to_jsonb(x)::text`)).rows.map((r) => r.r);
        }
        return out;
      };
      const kept = await snapshot();
      expect(await migrateRemote(runner)).toEqual(setBased.map((m) => m.version));
      expect(await snapshot()).toEqual(kept);
      // And the new batch_sync goes on from that state, column by column.
      expect(await up([
        op({ record_id: 'k1', data: { status: 'older' }, changed_at: T(2), seq: 9 }),  // older than the status it would change: stale
        op({ record_id: 'k1', data: { title: 'newer' }, changed_at: T(6), seq: 10 }),
        op({ operation: 'INSERT', record_id: 'k2', data: { title: 'back' }, changed_at: T(3), seq: 11 }),  // before its delete
        op({ table: 'task_summaries', record_id: 's1', data: { total_events: 3 }, changed_at: T(6), seq: 12 }),
      ])).toEqual(['stale', 'applied', 'stale', 'applied']);
      const k1 = (await pool.query("select title, status, priority from tasks where system_id = $1 and id = 'k1'", [SYS])).rows[0];
      expect(k1).toEqual({ title: 'newer', status: 'doing', priority: 'high' });
      expect((await pool.query("select title from tasks where system_id = $1 and id = 'k3'", [SYS])).rows[0]).toEqual({ title: 'three' });
      expect((await pool.query('select count(*)::int n from ccm_sync_ledger where system_id = $1 and op_id = any ($2)', [SYS, events])).rows[0]!.n).toBe(2);
      const [first] = (kept.ccm_sync_ledger as { op_id: string }[]);
      expect(await up([op({ op_id: first!.op_id, record_id: 'k9', data: { title: 'again' } })])).toEqual(['duplicate']);
      // A client that asks for compact answers gets them, expanded to one result per operation,
      // and one that does not (an older ccm-sync) still gets one result per operation.
      const compact = await t.upload({ system_id: SYS, sync_timestamp: new Date().toISOString(), settled_through: 0, answers: 'compact', operations: [
        op({ operation: 'INSERT', record_id: 'k10', data: { title: 'ten' }, seq: 13 }),
        op({ op_id: first!.op_id, record_id: 'k9', data: { title: 'again' } }),
        op({ record_id: 'k1', data: { status: 'older still' }, changed_at: T(1), seq: 14 }),
      ] });
      expect(compact.map((r) => r.status)).toEqual(['applied', 'duplicate', 'stale']);
      const raw = async (answers?: string) => (await pool.query("select set_config('request.jwt.claims', $1, true), public.batch_sync($2::jsonb) as r",
        [JSON.stringify({ system_id: SYS }), JSON.stringify({ system_id: SYS, settled_through: 0, answers, operations: [op({ operation: 'INSERT', record_id: `k-${answers}`, seq: 15 })] })])).rows[0]!.r;
      expect(await raw()).toEqual([{ op_id: expect.any(String), status: 'applied' }]);
      expect(await raw('compact')).toEqual({ applied: 1, results: {} });
    } finally {
      await t.close();
      await pool.end();
    }
  });

  it('syncs into a column added later at once, and caches its plan once ccm_make_writers has run', async () => {
    const { name } = await freshDatabase();
    const pool = new pg.Pool({ connectionString: pgUrl(name), max: 2 });
    pool.on('error', () => undefined);
    await migrateRemote({ exec: async (sql) => void (await pool.query(sql)), query: async <R>(sql: string, p?: unknown[]) => (await pool.query(sql, p)).rows as R[] });
    const t = new PostgresTransport({ connectionString: pgUrl(name), systemId: SYS, timeoutMs: 10_000 });
    const writers = async () => (await pool.query<{ n: string }>("select count(*) n from pg_proc where proname like 'ccm_new_rows_tasks_%'")).rows[0]!.n;
    const call = async (ops: WireOperation[]) => (await t.upload({ system_id: SYS, sync_timestamp: new Date().toISOString(), operations: ops, settled_through: 0 })).map((r) => r.status);
    try {
      expect(Number(await writers())).toBe(1);
      await pool.query('alter table tasks add column estimate_hours numeric');
      // No writer matches the new columns: the statements run as themselves, and the column is a column.
      expect(await call([op({ operation: 'INSERT', record_id: 'c1', data: { title: 'x', estimate_hours: 3 }, seq: 1 })])).toEqual(['applied']);
      expect(await call([op({ record_id: 'c1', data: { estimate_hours: 4 }, changed_at: T(30), seq: 2 })])).toEqual(['applied']);
      expect((await pool.query("select estimate_hours::int as h, extra from tasks where system_id = $1 and id = 'c1'", [SYS])).rows[0]).toEqual({ h: 4, extra: null });
      await pool.query("select public.ccm_make_writers('tasks')");
      expect(Number(await writers())).toBe(2);
      expect(await call([op({ operation: 'INSERT', record_id: 'c2', data: { estimate_hours: 5 }, seq: 3 }), op({ record_id: 'c1', data: { estimate_hours: 6 }, changed_at: T(40), seq: 4 })])).toEqual(['applied', 'applied']);
      expect((await pool.query("select id, estimate_hours::int as h from tasks where system_id = $1 and id in ('c1', 'c2') order by id", [SYS])).rows).toEqual([{ id: 'c1', h: 6 }, { id: 'c2', h: 5 }]);
    } finally {
      await t.close();
      await pool.end();
    }
  });

  it('on PGlite, upgraded when the embedded remote opens', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ccm-upg-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const { PGlite } = await import('@electric-sql/pglite');
    const lite = await PGlite.create(path.join(dir, 'remote'));
    await migrateOld({ exec: async (sql) => void (await lite.exec(sql)), query: async <R>(sql: string, p?: unknown[]) => (await lite.query<R>(sql, p)).rows }, true);
    await lite.transaction(async (tx) => {
      await tx.query("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)", [JSON.stringify({ role: 'authenticated', system_id: SYS })]);
      await tx.query('select public.batch_sync($1::jsonb)', [JSON.stringify({ system_id: SYS, sync_timestamp: T(11), operations: Object.values(opsBefore) })]);
    });
    await lite.close();
    const t = await EmbeddedTransport.open(path.join(dir, 'remote'), SYS);
    try {
      expect((await t.query<{ version: string }>('select version from ccm_schema_migrations order by version')).map((r) => r.version)).toEqual(migrationFiles().map((m) => m.version));
      for (const m of NEW) await t.exec(m.sql);
      await checkUpgraded(t, (sql, p) => t.query(sql, p));
    } finally {
      await t.close();
    }
  });
});
