/**
 * Applies supabase/migrations/*.sql, in file-name order, to a Postgres-compatible database that we
 * connect to directly (the `postgres` and `embedded` remotes). Applied versions are recorded in
 * public.ccm_schema_migrations; each migration runs in its own (implicit) transaction.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { BOOTSTRAP_SQL } from './bootstrap.ts';

export const MIGRATIONS_DIR = new URL('../../supabase/migrations/', import.meta.url);

export interface SqlRunner {
  /** Runs a script of several statements. */
  exec(sql: string): Promise<void>;
  /** Runs one query and returns its rows. */
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
}

export function migrationFiles(): { version: string; sql: string }[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => ({ version: f.replace(/\.sql$/, ''), sql: readFileSync(new URL(f, MIGRATIONS_DIR), 'utf8') }));
}

/** Bootstrap plus every migration not yet applied. Returns the versions applied now. */
export async function migrateRemote(db: SqlRunner, opts: { bootstrap?: boolean } = {}): Promise<string[]> {
  if (opts.bootstrap ?? true) await db.exec(BOOTSTRAP_SQL);
  await db.exec(`create table if not exists public.ccm_schema_migrations (
    version text primary key, applied_at timestamptz not null default now())`);
  const done = new Set((await db.query<{ version: string }>('select version from public.ccm_schema_migrations')).map((r) => r.version));
  const applied: string[] = [];
  for (const m of migrationFiles()) {
    if (done.has(m.version)) continue;
    // One simple-query script runs as one implicit transaction: all of it applies, or none.
    await db.exec(`${m.sql}\ninsert into public.ccm_schema_migrations (version) values ('${m.version.replace(/'/g, "''")}') on conflict do nothing;`);
    applied.push(m.version);
  }
  return applied;
}
