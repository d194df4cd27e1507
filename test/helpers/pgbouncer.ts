/**
 * A real PgBouncer (Debian's `pgbouncer`) in transaction mode in front of a Postgres server: what
 * Supabase's dedicated pooler runs on port 6543. Its settings are the package's defaults but for
 * the pool mode, the address and trust authentication, so a client that sends a startup parameter
 * a transaction pooler refuses, or keeps session state, fails here as it would on Supabase.
 * PgBouncer refuses to run as root, so as root it runs as the `postgres` user.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './postgrest.ts';
import { PG_HOST, PG_PORT } from './pg.ts';
import { until } from './wait.ts';

export const PGBOUNCER = '/usr/sbin/pgbouncer';

export interface PgBouncer {
  port: number;
  /** A URL through the pooler to `db` as `user` (default postgres). */
  url(db: string, user?: string): string;
  /** Server connections PgBouncer holds to Postgres for `db` right now (SHOW POOLS, sv_* summed). */
  serverConnections(db: string): Promise<number>;
  close(): Promise<void>;
}

export interface PgBouncerOptions {
  /** Server connections per (database, user) pair: default_pool_size. */
  poolSize?: number;
  maxClientConn?: number;
  /** Users that may connect (trust, but PgBouncer still wants them listed). */
  users?: string[];
  pgPort?: number;
}

function asPostgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
}

export async function startPgBouncer(opts: PgBouncerOptions = {}): Promise<PgBouncer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ccm-pgbouncer-'));
  const port = await freePort();
  const users = ['postgres', ...(opts.users ?? [])];
  writeFileSync(path.join(dir, 'userlist.txt'), users.map((u) => `"${u}" ""\n`).join(''));
  writeFileSync(path.join(dir, 'pgbouncer.ini'), [
    '[databases]',
    `* = host=${PG_HOST} port=${opts.pgPort ?? PG_PORT}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    `unix_socket_dir = ${dir}`,
    'auth_type = trust',
    `auth_file = ${path.join(dir, 'userlist.txt')}`,
    'pool_mode = transaction',
    `default_pool_size = ${opts.poolSize ?? 20}`,
    `max_client_conn = ${opts.maxClientConn ?? 100}`,
    `logfile = ${path.join(dir, 'pgbouncer.log')}`,
    'admin_users = postgres',
    '',
  ].join('\n'));
  const owner = asPostgresUser();
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const child: ChildProcess = spawn(PGBOUNCER, [path.join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'ignore', 'pipe'], ...(owner ?? {}) });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await until(() => {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}: ${stderr}`);
    return new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
  }, 'pgbouncer to listen', 10_000, 50);
  return {
    port,
    url: (db, user = 'postgres') => `postgres://${user}@127.0.0.1:${port}/${db}`,
    serverConnections: async (db) => {
      const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/pgbouncer` });
      c.on('error', () => undefined); // a pooler stopping meanwhile fails the query, not the process
      await c.connect();
      try {
        const rows = (await c.query('SHOW POOLS')).rows as Record<string, string>[];
        return rows.filter((r) => r.database === db).reduce((n, r) => n + ['sv_active', 'sv_idle', 'sv_used', 'sv_tested', 'sv_login'].reduce((m, k) => m + Number(r[k] ?? 0), 0), 0);
      } finally {
        await c.end();
      }
    },
    close: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
