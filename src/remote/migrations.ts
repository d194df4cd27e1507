/**
 * Applies supabase/migrations/*.sql, in file-name order, to a Postgres-compatible database that we
 * connect to directly (the `postgres` and `embedded` remotes). Applied versions are recorded in
 * <schema>.ccm_schema_migrations; each migration runs in its own (implicit) transaction.
 *
 * The files are written for schema `public`, so that they apply unchanged to a Supabase project.
 * With `remote.schema` set to another name, `renderMigration` moves every object there: the files
 * name `public.` explicitly for every object of ours, and nothing else (the PUBLIC pseudo-role in
 * `revoke ... from public` has no dot), which is what makes the rewrite safe.
 * `ccm-sync remote sql --schema <name>` prints the rendered files for a Supabase SQL editor.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { ConfigError } from '../errors.ts';
import { BOOTSTRAP_SQL } from './bootstrap.ts';

export const MIGRATIONS_DIR = new URL('../../supabase/migrations/', import.meta.url);

export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface SqlRunner {
  /** Runs a script of several statements. */
  exec(sql: string): Promise<void>;
  /** Runs one query and returns its rows. */
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
}

export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new ConfigError(`remote.schema must be a lower-case SQL name (letters, digits, _), got ${JSON.stringify(schema)}`);
  return schema;
}

/** The SQL of a migration file for `schema` (unchanged for public). */
export function renderMigration(sql: string, schema: string): string {
  if (checkSchemaName(schema) === 'public') return sql;
  return sql
    .replace(/\bpublic\./g, `${schema}.`)
    .replace(/\bschema public\b/g, `schema ${schema}`)
    .replace(/\bsearch_path = public\b/g, `search_path = ${schema}`);
}

/** What a non-public schema needs before the first file: the schema and its usage grants. */
export function schemaPrelude(schema: string): string {
  if (checkSchemaName(schema) === 'public') return '';
  return `create schema if not exists ${schema};\ngrant usage on schema ${schema} to anon, authenticated, service_role;\n`;
}

export function migrationFiles(schema = 'public'): { version: string; sql: string }[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => ({ version: f.replace(/\.sql$/, ''), sql: renderMigration(readFileSync(new URL(f, MIGRATIONS_DIR), 'utf8'), schema) }));
}

/** Bootstrap plus every migration not yet applied. Returns the versions applied now. */
export async function migrateRemote(db: SqlRunner, opts: { bootstrap?: boolean; schema?: string } = {}): Promise<string[]> {
  const schema = checkSchemaName(opts.schema ?? 'public');
  if (opts.bootstrap ?? true) await db.exec(BOOTSTRAP_SQL);
  await db.exec(`${schemaPrelude(schema)}create table if not exists ${schema}.ccm_schema_migrations (
    version text primary key, applied_at timestamptz not null default now())`);
  const done = new Set((await db.query<{ version: string }>(`select version from ${schema}.ccm_schema_migrations`)).map((r) => r.version));
  const applied: string[] = [];
  for (const m of migrationFiles(schema)) {
    if (done.has(m.version)) continue;
    // One simple-query script runs as one implicit transaction: all of it applies, or none.
    await db.exec(`${m.sql}\ninsert into ${schema}.ccm_schema_migrations (version) values ('${m.version.replace(/'/g, "''")}') on conflict do nothing;`);
    applied.push(m.version);
  }
  return applied;
}
