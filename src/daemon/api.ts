/**
 * The daemon's local HTTP API, on 127.0.0.1 only, every route behind the bearer token.
 *
 *   POST /api/sync/now        run a sync now; answers the design's result
 *   POST /api/sync/drain      sync until nothing eligible is pending
 *   GET  /api/sync/status     the status object (same as `ccm-sync sync status --json`)
 *   POST /api/operations      record one operation, an array, or {operations: [...]}
 *   POST /api/sync/retry-failed, /api/pause {paused?}, /api/offline {duration_ms|null}
 *   POST /api/verify          {op_ids} → {missing} from the remote ledger
 *   GET  /metrics             Prometheus text format
 * Errors are JSON {error}: 401 without the token, 400 for malformed JSON or bad operations.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InputError, exitCodeOf, messageOf } from '../errors.ts';
import { redact } from '../redact.ts';
import { tokenMatches } from './token.ts';

export type Handler = (body: unknown) => Promise<unknown> | unknown;

export interface ApiRoutes {
  [route: string]: Handler;
}

const MAX_BODY = 16 * 1024 * 1024;

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
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
  } catch (err) {
    throw new HttpError(400, `malformed JSON: ${messageOf(err)}`);
  }
}

export async function startApi(port: number, token: string, routes: ApiRoutes, metrics: () => Promise<string>): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    const send = (status: number, body: unknown, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(type === 'application/json' ? JSON.stringify(body) : String(body));
    };
    try {
      if (!tokenMatches(token, req.headers.authorization)) throw new HttpError(401, 'missing or wrong bearer token (see api.token_file)');
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (req.method === 'GET' && url.pathname === '/metrics') {
        send(200, await metrics(), 'text/plain; version=0.0.4');
        return;
      }
      const handler = routes[`${req.method} ${url.pathname}`];
      if (!handler) throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
      const body = req.method === 'POST' ? await readBody(req) : undefined;
      send(200, await handler(body));
    } catch (err) {
      const status = err instanceof HttpError ? err.status : InputError.is(err) ? 400 : exitCodeOf(err) === 2 ? 400 : 500;
      send(status, { error: redact(messageOf(err)) });
    }
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
