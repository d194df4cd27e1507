/**
 * A fresh Postgres database per test file on the local server (127.0.0.1:5432, trust auth), with
 * the bootstrap and the ccm-sync migration applied, exactly as `ccm-sync remote migrate` does.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrateRemote } from '../../src/remote/migrations.ts';

export const PG_HOST = process.env.CCM_TEST_PGHOST ?? '127.0.0.1';
export const PG_PORT = Number(process.env.CCM_TEST_PGPORT ?? 5432);
export const PG_USER = process.env.CCM_TEST_PGUSER ?? 'postgres';

export function pgUrl(db: string, port = PG_PORT, host = PG_HOST): string {
  return `postgres://${PG_USER}@${host}:${port}/${db}`;
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Superuser queries on the test database (bypasses RLS). */
  query<T extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/** `migrate: false`: an empty database, as a Supabase project is before its migrations. */
export async function createTestDatabase(prefix = 'ccm', opts: { schema?: string; migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: pgUrl('postgres') });
  await admin.connect();
  await admin.query(`create database ${name} template template0`);
  await admin.end();
  const pool = new pg.Pool({ connectionString: pgUrl(name), max: 2 });
  pool.on('error', () => undefined);
  if (opts.migrate !== false) await migrateRemote({
    exec: async (sql) => {
      await pool.query(sql);
    },
    query: async <T>(sql: string, params?: unknown[]) => (await pool.query(sql, params)).rows as T[],
  }, { schema: opts.schema });
  return {
    name,
    url: pgUrl(name),
    query: async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => (await pool.query<T>(sql, params)).rows,
    drop: async () => {
      await pool.end();
      const a = new pg.Client({ connectionString: pgUrl('postgres') });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}
