/**
 * Migrations the way Supabase users apply them: the pinned Supabase CLI's `db push --db-url` of
 * supabase/migrations, and `ccm-sync remote sql` pasted into psql, each as a migrating owner that
 * is not a superuser (as `postgres` is on a Supabase project), on a Postgres prepared like one
 * (the anon, authenticated and service_role roles and auth.jwt()). Both leave the schema that
 * `ccm-sync remote migrate` makes, and a second push applies nothing.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_SQL } from '../src/remote/bootstrap.ts';
import { runCli } from './helpers/cli.ts';
import { makeEnv } from './helpers/env.ts';
import { PG_HOST, PG_PORT, pgUrl } from './helpers/pg.ts';

const run = promisify(execFile);
const SUPABASE = path.resolve('node_modules/.bin/supabase');
const OWNER = 'ccm_test_migrator';
const made: string[] = [];
const work = mkdtempSync(path.join(tmpdir(), 'ccm-sbcli-'));

async function admin<T>(db: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: pgUrl(db) });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A database prepared like a Supabase project, with a non-superuser migrating owner. */
async function supabaseLike(name: string): Promise<string> {
  await admin('postgres', (c) => c.query(`create database ${name} template template0`));
  made.push(name);
  await admin(name, async (c) => {
    await c.query(BOOTSTRAP_SQL);
    await c.query(`do $$ begin create role ${OWNER} login createrole; exception when duplicate_object then null; end $$`);
    await c.query(`alter role ${OWNER} nosuperuser createrole nobypassrls`);
    await c.query(`grant create, connect on database ${name} to ${OWNER}; alter schema public owner to ${OWNER}; grant usage on schema auth to ${OWNER}`);
  });
  return `postgres://${OWNER}@${PG_HOST}:${PG_PORT}/${name}`;
}

/** Our objects as pg_dump sees them, without owners and the migration bookkeeping. */
async function schemaOf(db: string): Promise<string> {
  const { stdout } = await run('pg_dump', ['-h', PG_HOST, '-p', String(PG_PORT), '-U', 'postgres', '--schema-only', '--no-owner', '-n', 'public', '-T', 'public.ccm_schema_migrations', db]);
  return stdout.split('\n').filter((l) => l && !l.startsWith('--') && !/^\\(un)?restrict /.test(l)).join('\n');
}

async function push(url: string): Promise<string> {
  const { stdout, stderr } = await run(SUPABASE, ['db', 'push', '--db-url', `${url}?sslmode=disable`, '--yes'], { cwd: work, env: { ...process.env, SUPABASE_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' } });
  return stdout + stderr;
}

afterAll(async () => {
  for (const db of made) await admin('postgres', (c) => c.query(`drop database if exists ${db} with (force)`));
  rmSync(work, { recursive: true, force: true });
});

describe('supabase db push and remote sql, as a non-superuser owner', () => {
  it('apply supabase/migrations once, and leave the schema remote migrate makes', async () => {
    cpSync('supabase/migrations', path.join(work, 'supabase', 'migrations'), { recursive: true });
    const id = Date.now().toString(36);
    const pushed = await supabaseLike(`ccm_push_${id}`);
    const first = await push(pushed);
    expect(first).toMatch(/Applying migration 20261203000000_ccm_sync_identity\.sql/);
    expect(first).toMatch(/Finished supabase db push/);
    expect(await push(pushed)).toMatch(/Remote database is up to date/);
    expect(await admin(`ccm_push_${id}`, async (c) => (await c.query<{ r: { schema: number } }>('select public.ccm_sync_info() r')).rows[0]!.r.schema)).toBe(5);

    const pasted = await supabaseLike(`ccm_paste_${id}`);
    const env = makeEnv({ remote: { kind: 'postgres' } });
    try {
      const sql = await runCli(['remote', 'sql'], { env: env.env });
      expect(sql.code).toBe(0);
      // Its header says which file's word holds: the first file calls batch_sync security invoker.
      expect(sql.stdout).toMatch(/batch_sync, for one,\n-- is security definer since 20261126000000/);
      expect(sql.stdout).toContain('read supabase/schema.sql');
      const psql = await new Promise<{ code: number | null; err: string }>((resolve) => {
        const p = execFile('psql', ['-v', 'ON_ERROR_STOP=1', '-q', pasted], (e, _o, err) => resolve({ code: e ? (e as { code?: number }).code ?? 1 : 0, err }));
        p.stdin!.end(sql.stdout);
      });
      expect(psql.code, psql.err).toBe(0);
      expect(psql.err).not.toMatch(/ERROR|WARNING/);
    } finally {
      env.cleanup();
    }

    const migrated = `ccm_migrate_${id}`;
    await admin('postgres', (c) => c.query(`create database ${migrated} template template0`));
    made.push(migrated);
    const m = makeEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: pgUrl(migrated) });
    try {
      expect((await runCli(['remote', 'migrate'], { env: m.env })).code).toBe(0);
    } finally {
      m.cleanup();
    }
    const want = await schemaOf(migrated);
    expect(want).toMatch(/CREATE FUNCTION public\.batch_sync/);
    expect(await schemaOf(`ccm_push_${id}`)).toBe(want);
    expect(await schemaOf(`ccm_paste_${id}`)).toBe(want);
  });
});
