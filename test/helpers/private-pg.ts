/**
 * A Postgres server of our own (initdb in a temp dir, a free port), so a test can stop and start
 * it without disturbing the shared server other test files use.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { BOOTSTRAP_SQL } from '../../src/remote/bootstrap.ts';
import { migrateRemote, migrationFiles } from '../../src/remote/migrations.ts';
import { freePort } from './postgrest.ts';

const VERSION = readdirSync('/usr/lib/postgresql').sort().at(-1)!;
const BIN = `/usr/lib/postgresql/${VERSION}/bin`;

function asPostgres(cmd: string, args: string[]): void {
  const isRoot = process.getuid?.() === 0;
  if (isRoot) execFileSync('runuser', ['-u', 'postgres', '--', path.join(BIN, cmd), ...args], { stdio: 'pipe' });
  else execFileSync(path.join(BIN, cmd), args, { stdio: 'pipe' });
}

export interface PrivatePostgres {
  port: number;
  /** The cluster's data directory (its postmaster.pid names the server process). */
  dataDir: string;
  url: string;
  start(): void;
  stop(): void;
  query<T extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
  destroy(): Promise<void>;
}

/**
 * `settings`: more server settings (-c name=value), e.g. max_connections for a fleet.
 * `migrateBefore`: only the remote migrations older than this version (a bench's "before").
 */
export async function startPrivatePostgres(opts: { settings?: Record<string, string>; migrateBefore?: string } = {}): Promise<PrivatePostgres> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ccm-pg-'));
  const data = path.join(dir, 'data');
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, uid, gid);
  }
  asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  const extra = Object.entries(opts.settings ?? {}).map(([k, v]) => ` -c ${k}=${v}`).join('');
  const start = () => asPostgres('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off${extra}`, 'start']);
  const stop = () => asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const run = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => {
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => undefined); // a server stopped meanwhile fails the query, not the process
    await c.connect();
    try {
      return (await c.query<T>(sql, params)).rows;
    } finally {
      await c.end();
    }
  };
  if (opts.migrateBefore) {
    await run(BOOTSTRAP_SQL);
    for (const m of migrationFiles().filter((f) => f.version < opts.migrateBefore!)) await run(m.sql);
  } else {
    await migrateRemote({ exec: async (sql) => void (await run(sql)), query: async <T>(sql: string, params?: unknown[]) => (await run(sql, params)) as T[] });
  }
  return {
    port,
    dataDir: data,
    url,
    start,
    stop,
    query: run,
    destroy: async () => {
      try {
        stop();
      } catch {
        // already stopped
      }
      if (process.env.CCM_KEEP_PG_LOG) copyFileSync(path.join(dir, 'log'), process.env.CCM_KEEP_PG_LOG);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
