/**
 * The schema contract: the table catalog agrees with the migrated remote and the README; the
 * design's own examples land with every field through each transport (postgres, supabase through
 * PostgREST, embedded); keys that name no column are kept in `extra`, or refused at enqueue with
 * strict columns; values that cannot fit are refused at enqueue; and a property test: any
 * record_data is either refused at enqueue (nothing recorded) or lands with every key recoverable.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { BOOKKEEPING_COLUMNS, ROW_TABLES, TABLES, recordFromRemoteRow, tableSpec, type ColumnType } from '../src/catalog.ts';
import { InputError } from '../src/errors.ts';
import { openLocal, syncContext, type Local } from '../src/local.ts';
import { EmbeddedTransport } from '../src/remote/embedded.ts';
import { PostgresTransport } from '../src/remote/postgres.ts';
import { AccessToken } from '../src/remote/credentials.ts';
import { SupabaseTransport } from '../src/remote/supabase.ts';
import { runSync } from '../src/workers/sync-run.ts';
import { tablesMarkdown } from '../src/cli/commands/tables.ts';
import { configMarkdown } from '../src/cli/commands/setup.ts';
import { makeEnv, type TestEnv } from './helpers/env.ts';
import { anonKey, systemToken } from './helpers/jwt.ts';
import { runCli } from './helpers/cli.ts';
import type { Transport } from '../src/remote/transport.ts';
import { postgrestTest, type PostgrestServer, type TestDatabase } from './helpers/fixtures.ts';

interface Remote {
  db: TestDatabase;
  rest: PostgrestServer;
}

const PG_TYPES: Record<ColumnType, string> = {
  text: 'text', integer: 'integer', numeric: 'numeric', boolean: 'boolean', timestamptz: 'timestamp with time zone', jsonb: 'jsonb',
};

describe('the table catalog', () => {
  postgrestTest('is what the migrated remote has: every table, column and type, and the allowlist', async ({ db }) => {
    const cols = await db.query<{ table_name: string; column_name: string; data_type: string }>(
      `select table_name, column_name, data_type from information_schema.columns where table_schema = 'public'`);
    const has = new Map(cols.map((c) => [`${c.table_name}.${c.column_name}`, c.data_type]));
    for (const t of TABLES.filter((x) => x.sync === 'rows')) {
      for (const c of t.columns) expect(has.get(`${t.name}.${c.name}`), `${t.name}.${c.name}`).toBe(PG_TYPES[c.type]);
      for (const c of BOOKKEEPING_COLUMNS) expect(has.has(`${t.name}.${c.name}`), `${t.name}.${c.name}`).toBe(true);
    }
    const registry = (await db.query<{ name: string }>('select name from ccm_sync_tables order by name')).map((r) => r.name);
    expect(registry).toEqual([...ROW_TABLES].sort());
  });

  it('is the README\'s table reference, and `ccm-sync tables --json` prints it', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = (name: string) => new RegExp(`<!-- ${name}:begin -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(readme)?.[1];
    expect(section('tables'), 'README table reference (regenerate with `npm run docs`)').toBe(tablesMarkdown());
    expect(section('config'), 'README config reference (regenerate with `npm run docs`)').toBe(await configMarkdown());
    const env = makeEnv();
    try {
      const r = await runCli(['tables', '--json'], { env: env.env });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).tables.map((t: { name: string }) => t.name)).toEqual(TABLES.map((t) => t.name));
    } finally {
      env.cleanup();
    }
  });
});

/** The design's three examples, as the design writes them, plus a key that names no column. */
const EXAMPLES = [
  { operation: 'INSERT', table_name: 'alerts', record_id: 'alert-1', record_data: { level: 'critical', message: 'System offline' }, priority: 'urgent' },
  { operation: 'INSERT', table_name: 'supervisory_reports', record_id: 'report-456', record_data: { task_id: '123', quality_score: 8 } },
  { operation: 'UPDATE', table_name: 'tasks', record_id: '123', record_data: { status: 'complete', completed_at: '2026-11-25T10:00:00Z', reviewer_mood: { happy: true } } },
] as const;

function examplesLand(name: string, open: (env: TestEnv, remote: Remote) => Promise<{ transport: Transport; row: (table: string, id: string, sys: string) => Promise<Record<string, unknown>> }>) {
  postgrestTest(`lands the design's examples with every field: ${name}`, async ({ db, rest }) => {
    const env = makeEnv();
    const local = openLocal(env.settings);
    const { transport, row } = await open(env, { db, rest });
    try {
      local.recorder.record([...EXAMPLES]);
      const r = await runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 'test' });
      expect(r).toMatchObject({ status: 'synced', operations_synced: 3 });
      expect(await row('alerts', 'alert-1', env.systemId)).toMatchObject({ level: 'critical', message: 'System offline', extra: null });
      const report = await row('supervisory_reports', 'report-456', env.systemId);
      expect([report.task_id, Number(report.quality_score)]).toEqual(['123', 8]);
      const task = await row('tasks', '123', env.systemId);
      expect(task).toMatchObject({ status: 'complete', extra: { reviewer_mood: { happy: true } } });
      expect(new Date(task.completed_at as string).toISOString()).toBe('2026-11-25T10:00:00.000Z');
      // A critical alert is urgent, as the design's example says.
      expect(local.db.prepare("SELECT priority FROM sync_queue WHERE record_id = 'alert-1'").get()).toEqual({ priority: 'urgent' });
    } finally {
      await transport.close();
      local.close();
      env.cleanup();
    }
  });
}

/**
 * Each rejection class goes where it should: a constraint (23514) and a permission refusal (42501)
 * are dead letters at once; an error of no known class (P0001) is retried with backoff; a transient
 * one (40001) fails the whole call, so the job retries it and the operation stays pending.
 */
function rejectionClasses(name: string, open: (env: TestEnv, remote: Remote) => Promise<{ transport: Transport; exec: (sql: string) => Promise<unknown> }>) {
  postgrestTest(`sends each rejection class where it belongs: ${name}`, async ({ db, rest }) => {
    const env = makeEnv();
    const local = openLocal(env.settings);
    const { transport, exec } = await open(env, { db, rest });
    await exec(`create or replace function ccm_test_refuse() returns trigger language plpgsql as $$ begin
        if new.summary = 'constraint' then raise exception 'refused by a constraint' using errcode = '23514'; end if;
        if new.summary = 'permission' then raise exception 'not allowed' using errcode = '42501'; end if;
        if new.summary = 'unknown' then raise exception 'who knows'; end if;
        if new.summary = 'transient' then raise exception 'try again' using errcode = '40001'; end if;
        return new; end $$`);
    await exec('drop trigger if exists ccm_test_refuse on supervisory_reports');
    await exec('create trigger ccm_test_refuse before insert on supervisory_reports for each row execute function ccm_test_refuse()');
    try {
      const rec = (id: string, summary: string) => ({ operation: 'INSERT' as const, table_name: 'supervisory_reports', record_id: `${name}-${id}`, record_data: { summary } });
      local.recorder.record([rec('ok', 'fine'), rec('c', 'constraint'), rec('p', 'permission'), rec('u', 'unknown')]);
      const r = await runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 'classes' });
      expect(r).toMatchObject({ operations_synced: 1, operations_failed: 2, operations_pending_retry: 1 });
      const row = (id: string) => local.db.prepare('SELECT status, error_code FROM sync_queue WHERE record_id = ?').get(`${name}-${id}`);
      expect([row('c'), row('p'), row('u')]).toEqual([
        { status: 'failed', error_code: '23514' }, { status: 'failed', error_code: '42501' }, { status: 'pending', error_code: 'P0001' },
      ]);
      local.recorder.record([rec('t', 'transient')]);
      // (PostgREST itself retries a serialization failure until our request timeout ends it.)
      await expect(runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 'transient' }))
        .rejects.toMatchObject({ name: 'RemoteUnavailableError' });
      expect(row('t')).toEqual({ status: 'pending', error_code: null });
    } finally {
      await exec('drop trigger if exists ccm_test_refuse on supervisory_reports');
      await transport.close();
      local.close();
      env.cleanup();
    }
  });
}

describe('rejection classes', () => {
  rejectionClasses('postgres', async (env, { db }) => ({
    transport: new PostgresTransport({ connectionString: db.url, systemId: env.systemId, timeoutMs: 10_000 }),
    exec: (sql) => db.query(sql),
  }));
  rejectionClasses('supabase', async (env, { db, rest }) => ({
    transport: new SupabaseTransport({ url: rest.url, apiKey: await anonKey(), token: new AccessToken({ value: await systemToken(env.systemId) }), timeoutMs: 2000 }),
    exec: (sql) => db.query(sql),
  }));
  rejectionClasses('embedded', async (env) => {
    const t = await EmbeddedTransport.open(env.settings.paths.embedded, env.systemId);
    return { transport: t, exec: (sql) => t.exec(sql) };
  });
});

describe('the design\'s examples', () => {
  const superRow = (db: TestDatabase) => async (table: string, id: string, sys: string) => (await db.query(`select * from ${table} where system_id = $1 and id = $2`, [sys, id]))[0]!;
  examplesLand('postgres', async (env, { db }) => ({
    transport: new PostgresTransport({ connectionString: db.url, systemId: env.systemId, timeoutMs: 10_000 }),
    row: superRow(db),
  }));
  examplesLand('supabase (supabase-js → PostgREST)', async (env, { db, rest }) => ({
    transport: new SupabaseTransport({ url: rest.url, apiKey: await anonKey(), token: new AccessToken({ value: await systemToken(env.systemId) }), timeoutMs: 10_000 }),
    row: superRow(db),
  }));
  examplesLand('embedded (PGlite)', async (env) => {
    const t = await EmbeddedTransport.open(env.settings.paths.embedded, env.systemId);
    return { transport: t, row: async (table, id, sys) => (await t.query<Record<string, unknown>>(`select * from ${table} where system_id = $1 and id = $2`, [sys, id]))[0]! };
  });
});

describe('refusals at enqueue', () => {
  it('refuses keys that name no column with strict columns, naming the columns, and records nothing', async () => {
    const env = makeEnv({ sync: { strict_columns: true } });
    try {
      const r = await runCli(['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', '1', '--data', '{"status":"done","mood":"good"}'], { env: env.env });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/tasks has no column mood \(sync.strict_columns is on\); its columns are title, description, status/);
      const json = await runCli(['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', '1', '--data', '{"mood":"good"}', '--json'], { env: env.env });
      expect(json.code).toBe(2);
      expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'INPUT_INVALID', message: expect.stringMatching(/has no column mood/) } });
      const status = JSON.parse((await runCli(['sync', 'status', '--json'], { env: env.env })).stdout);
      expect(status.pending.total).toBe(0);
    } finally {
      env.cleanup();
    }
  });

  it.each([
    ['{"completed_at":"yesterday-ish"}', /tasks.completed_at expects an ISO 8601 time/],
    // Dates JavaScript would roll over or accept, which Postgres refuses (22008)
    ['{"completed_at":"2026-02-30T10:00:00Z"}', /tasks.completed_at expects an ISO 8601 time .*a real date/],
    ['{"started_at":"0000-01-01T00:00:00Z"}', /tasks.started_at expects an ISO 8601 time .*year 1 or later/],
    ['{"title":42}', /tasks.title expects text \(a JSON string\), got number 42/],
    ['{"updated_at":"2026-01-01T00:00:00Z"}', /updated_at is kept by ccm-sync; pass the change time as changed_at/],
    ['{"id":"other"}', /id is a column ccm-sync maintains itself/],
    ['{"sync_seq":1}', /sync_seq is a column ccm-sync maintains itself/],
  ])('refuses %s with exit 2 and records nothing', async (data, message) => {
    const env = makeEnv();
    try {
      const r = await runCli(['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', '1', '--data', data], { env: env.env });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(JSON.parse((await runCli(['sync', 'status', '--json'], { env: env.env })).stdout).pending.total).toBe(0);
    } finally {
      env.cleanup();
    }
  });
});

/** What a value of a column type reads back as, for comparing with what was recorded. */
function normalise(type: ColumnType | 'extra', v: unknown): unknown {
  if (v === null || v === undefined) return undefined;
  if (type === 'numeric' || type === 'integer') return Number(v) + 0; // +0: -0 reads back as 0
  if (type === 'timestamptz') return v instanceof Date ? v.getTime() : new Date(String(v).replace(' ', 'T')).getTime();
  return JSON.parse(JSON.stringify(v));
}

describe('property: refused at enqueue, or lands with every key recoverable', () => {
  let env: TestEnv;
  let local: Local;
  let transport: PostgresTransport;
  postgrestTest.beforeAll(({ db }) => {
    env = makeEnv();
    local = openLocal(env.settings);
    transport = new PostgresTransport({ connectionString: db.url, systemId: env.systemId, timeoutMs: 10_000 });
  });
  afterAll(async () => {
    await transport.close();
    local.close();
    env.cleanup();
  });

  const value = fc.oneof(
    fc.string(), fc.string({ unit: 'binary', maxLength: 4 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null),
    fc.date({ min: new Date('1990-01-01'), max: new Date('2090-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
    fc.constantFrom('2026-11-25', '2026-11-25 10:00:00+02', 'yesterday', '12.5', '1e3', ''),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string(), fc.integer(), fc.boolean()), { maxKeys: 3 }),
    fc.array(fc.integer(), { maxLength: 3 }),
  );
  const keysFor = (table: string) => fc.constantFrom(...tableSpec(table)!.columns.map((c) => c.name), 'id', 'updated_at', 'mood', 'notes', 'ünïcode key', 'extra');

  postgrestTest('holds for every row table', async ({ db }) => {
    let n = 0;
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...ROW_TABLES).chain((table) => fc.record({ table: fc.constant(table), data: fc.dictionary(keysFor(table), value, { maxKeys: 6 }) })),
      async ({ table, data }) => {
        const id = `prop-${n++}`;
        const before = local.outbox.pendingTotal();
        try {
          local.recorder.record([{ operation: 'INSERT', table_name: table, record_id: id, record_data: data }]);
        } catch (err) {
          expect(InputError.is(err)).toBe(true);
          expect(local.outbox.pendingTotal()).toBe(before);
          return;
        }
        const r = await runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 'property' });
        expect(r.operations_failed + r.operations_pending_retry, JSON.stringify(r)).toBe(0);
        const [row] = await db.query(`select * from ${table} where system_id = $1 and id = $2`, [env.systemId, id]);
        const landed = recordFromRemoteRow(row!);
        const types = new Map(tableSpec(table)!.columns.map((c) => [c.name, c.type] as const));
        const expected: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(data)) {
          if (k === 'id') continue; // equal to the record id (anything else was refused)
          const nv = normalise(types.get(k) ?? 'extra', v);
          if (nv !== undefined) expected[k] = nv;
        }
        const got: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(landed)) got[k] = normalise(types.get(k) ?? 'extra', v);
        expect(got).toEqual(expected);
      },
    ), { numRuns: 150 });
  });
});
