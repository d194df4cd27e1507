/**
 * The daemon's local HTTP API, on 127.0.0.1 only, every route behind the bearer token (the scheme
 * name is case-insensitive, as HTTP says).
 *
 * The port is bound first, before the daemon starts anything else, so a port that is taken ends
 * the start at once with a clear error instead of leaving a half-started daemon behind.
 * Errors are JSON {error}: 401 without the token, 400 for malformed JSON, unknown keys or bad
 * operations, 404 for an unknown path, 405 (with Allow) for a known path and the wrong method.
 *
 * The routes (`apiRoutes`, at the end of this file):
 *
 *   POST /api/sync/now        run a sync now; answers the design's result
 *   POST /api/sync/drain {batch_size?}   sync until nothing eligible is pending
 *   GET  /api/sync/status     the status object (same as `ccm-sync sync status --json`)
 *   POST /api/operations      record one operation, an array, or {operations: [...]}
 *   POST /api/sync/retry-failed   every dead letter back to pending
 *   POST /api/pause {paused?} pause or resume automatic syncs (resuming runs what the pause deferred)
 *   POST /api/offline {duration_ms|null}   simulate an outage
 *   POST /api/verify {ops}    which operations the remote ledger does not hold
 *   POST /api/remote/query {sql, timeout_ms, params?}   one read-only statement (the embedded remote this daemon holds)
 *   GET  /metrics             Prometheus text format
 *
 * `sync now` and the drain go straight to the sync jobs (../jobs/sync-jobs.ts, `runNow`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InputError, PortInUseError, exitCodeOf, messageOf } from '../errors.ts';
import { statusSnapshot } from '../monitor/status.ts';
import { redact } from '../redact.ts';
import { retryFailed } from '../repair.ts';
import { tokenMatches } from './token.ts';
import type { Settings } from '../config/load.ts';
import type { SyncJobs } from '../jobs/sync-jobs.ts';
import type { Local } from '../local.ts';
import type { VerifyItem } from '../remote/transport.ts';
import type { SyncWorkerHost } from '../workers/sync-thread.ts';
import type { ConnectionMonitor } from './connection.ts';
import type { TriggerType } from '../types.ts';

/** A route: the parsed JSON body and the request's headers in; the JSON answer out (undefined: 204, no body). */
export type Handler = ((body: unknown, headers: http.IncomingHttpHeaders) => Promise<unknown> | unknown) & { takesMalformed?: boolean };

export interface ApiRoutes {
  [route: string]: Handler;
}

const MAX_BODY = 16 * 1024 * 1024;

class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/**
 * A body that is not JSON. Refused with 400, by its size only (it may hold anything), except on a
 * route marked `takesMalformed`, which answers it itself (the hook route logs it and says 204).
 */
export class MalformedBody {
  readonly bytes: number;
  constructor(bytes: number) {
    this.bytes = bytes;
  }
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return new MalformedBody(Buffer.byteLength(text));
  }
}

/** Refuses a body with keys a route does not take (a typo should not be silently ignored). */
export function onlyKeys(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InputError(`expected a JSON object with ${allowed.join(', ') || 'no keys'}`);
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length) throw new InputError(`unknown key(s) ${unknown.join(', ')}; this route takes ${allowed.join(', ') || 'no keys'}`);
  return body as Record<string, unknown>;
}

export interface Api {
  port: number;
  /** Starts answering requests. */
  serve(token: string, routes: ApiRoutes, metrics: () => Promise<string>): void;
  close(): Promise<void>;
}

/** Binds 127.0.0.1:port (0 picks one). A taken port is a PortInUseError. */
export async function bindApi(port: number, heldBy: () => string | undefined): Promise<Api> {
  let handle: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> = async (_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'the daemon is starting' }));
  };
  const server = http.createServer((req, res) => void handle(req, res));
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') return reject(err);
      const who = heldBy();
      reject(new PortInUseError(`port ${port} on 127.0.0.1 is taken${who ? ` by ${who}` : ' by another program'}; ` +
        `stop it, or give this daemon another port with api.port in the config (0 picks a free one)`));
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    serve(token, routes, metrics) {
      handle = (req, res) => answer(req, res, token, routes, metrics);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function answer(req: http.IncomingMessage, res: http.ServerResponse, token: string, routes: ApiRoutes, metrics: () => Promise<string>): Promise<void> {
  const t0 = performance.now();
  // Server-Timing (RFC-less but standard in browsers and curl -v): how long the daemon took.
  const timing = () => ({ 'server-timing': `app;dur=${(performance.now() - t0).toFixed(3)}` });
  const send = (status: number, body: unknown, type = 'application/json', headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': type, ...timing(), ...headers });
    res.end(type === 'application/json' ? JSON.stringify(body) : String(body));
  };
  try {
    if (!tokenMatches(token, req.headers.authorization)) throw new HttpError(401, 'missing or wrong bearer token (see api.token_file)');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const all: ApiRoutes = { ...routes, 'GET /metrics': () => undefined };
    const handler = all[`${req.method} ${url.pathname}`];
    if (!handler) {
      const allow = Object.keys(all).filter((r) => r.endsWith(` ${url.pathname}`)).map((r) => r.split(' ')[0]!);
      if (allow.length) throw new HttpError(405, `${req.method} is not allowed on ${url.pathname}; use ${allow.join(', ')}`, { allow: allow.join(', ') });
      throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
    }
    if (url.pathname === '/metrics') {
      send(200, await metrics(), 'text/plain; version=0.0.4');
      return;
    }
    const body = req.method === 'POST' ? await readBody(req) : undefined;
    if (body instanceof MalformedBody && !handler.takesMalformed) throw new HttpError(400, `malformed JSON: ${body.bytes} bytes that are not JSON`);
    const out = await handler(body, req.headers);
    if (out === undefined) res.writeHead(204, timing()).end();
    else send(200, out);
  } catch (err) {
    const status = err instanceof HttpError ? err.status : InputError.is(err) ? 400 : exitCodeOf(err) === 2 ? 400 : 500;
    send(status, { error: redact(messageOf(err)) }, 'application/json', err instanceof HttpError ? err.headers : {});
  }
}

export interface RouteDeps {
  settings: Settings;
  local: Local;
  worker: SyncWorkerHost;
  conn: ConnectionMonitor;
  jobs: SyncJobs;
  /** Records what the hook spool holds, so a sync now takes the latest hook events too. */
  drainHooks(): void;
  enqueue(trigger: TriggerType, reason: string): void;
  /** Operations were recorded in this process: look at the thresholds now. */
  recorded(): void;
  /** Automatic syncs resumed: run what the pause deferred. */
  resumed(): void;
  extra?: ApiRoutes;
}

export function apiRoutes(d: RouteDeps): ApiRoutes {
  const { local, settings } = d;
  return {
    'POST /api/sync/now': (body) => {
      onlyKeys(body, []);
      d.drainHooks();
      return d.jobs.runNow('manual');
    },
    'POST /api/sync/drain': (body) => {
      const { batch_size: batchSize } = onlyKeys(body, ['batch_size']);
      if (batchSize !== undefined && !(Number.isInteger(batchSize) && (batchSize as number) > 0)) throw new InputError('batch_size: a positive whole number of operations per request');
      d.drainHooks();
      return d.jobs.runNow('drain', batchSize === undefined ? undefined : { batchSize: batchSize as number });
    },
    'GET /api/sync/status': () => statusSnapshot(local, settings, { byTable: true }),
    'POST /api/operations': (body) => {
      const list = Array.isArray(body) ? body : body && typeof body === 'object' && 'operations' in body ? onlyKeys(body, ['operations']).operations : [body];
      if (!Array.isArray(list) || list.length === 0) throw new InputError('expected an operation, an array of operations, or {"operations": [...]}');
      const res = local.recorder.record(list);
      d.recorded();
      return { recorded: res.op_ids.length, op_ids: res.op_ids };
    },
    'POST /api/sync/retry-failed': (body) => {
      onlyKeys(body, []);
      const out = retryFailed(local, settings, 'all');
      if (out.requeued.length > 0) d.enqueue('retry', `${out.requeued.length} failed operations re-queued`);
      return { requeued: out.requeued.length, warnings: out.warnings };
    },
    'POST /api/pause': (body) => {
      const want = onlyKeys(body, ['paused']).paused;
      if (want !== undefined && typeof want !== 'boolean') throw new InputError('paused must be true or false (or absent, to toggle)');
      const paused = want ?? !(local.state.get('paused')?.paused ?? false);
      local.state.set('paused', { paused, at: new Date(local.clock.now()).toISOString() });
      if (!paused) d.resumed();
      return { paused };
    },
    'POST /api/offline': (body) => {
      const ms = onlyKeys(body, ['duration_ms']).duration_ms;
      if (ms !== null && ms !== undefined && (typeof ms !== 'number' || ms < 0)) throw new InputError('duration_ms must be a non-negative number or null');
      const until = typeof ms === 'number' && ms > 0 ? local.clock.now() + ms : null;
      d.conn.simulate(until);
      return { simulated_offline_until: until ? new Date(until).toISOString() : null };
    },
    'POST /api/verify': async (body) => {
      const ops = onlyKeys(body, ['ops']).ops;
      if (!Array.isArray(ops)) throw new InputError('expected {"ops": [{"op_id", "seq"}, ...]}');
      const missing: string[] = [];
      const pruned: string[] = [];
      for (let i = 0; i < ops.length; i += 5000) {
        const v = await d.worker.verify(ops.slice(i, i + 5000) as VerifyItem[]);
        missing.push(...v.missing);
        pruned.push(...v.pruned);
      }
      return { checked: ops.length, missing, pruned };
    },
    'POST /api/remote/query': async (body) => {
      const { sql, timeout_ms: timeoutMs, params } = onlyKeys(body, ['sql', 'timeout_ms', 'params']);
      if (typeof sql !== 'string' || typeof timeoutMs !== 'number' || (params !== undefined && !Array.isArray(params))) {
        throw new InputError('expected {"sql": "select …", "timeout_ms": 30000, "params": [optional values for $1, $2 …]}');
      }
      return d.worker.query(sql, timeoutMs, params as unknown[] | undefined);
    },
    ...d.extra,
  };
}
