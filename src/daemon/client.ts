/**
 * Talking to a running daemon from another process: its port comes from sync_state.daemon (with
 * a pid that is still alive), its token from api.token_file.
 */
import { DaemonUnreachableError, InputError } from '../errors.ts';
import { readToken } from './token.ts';
import { processAlive } from '../monitor/status.ts';
import type { Settings } from '../config/load.ts';
import type { StateStore } from '../store/state.ts';

export interface DaemonClient {
  port: number;
  call<T>(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs?: number): Promise<T>;
}

export function findDaemon(settings: Settings, state: StateStore): DaemonClient | undefined {
  const d = state.get('daemon');
  if (!d || !processAlive(d.pid)) return undefined;
  const token = readToken(settings.paths.tokenFile);
  if (!token) return undefined;
  return {
    port: d.port,
    async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 600_000): Promise<T> {
      let res: Response;
      try {
        res = await fetch(`http://127.0.0.1:${d.port}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw new DaemonUnreachableError(`the daemon (pid ${d.pid}, port ${d.port}) did not answer: ${(err as Error).message}`);
      }
      const json = (await res.json().catch(() => ({}))) as T & { error?: string };
      if (res.status === 400) throw new InputError(json.error ?? 'bad request');
      if (!res.ok) throw new DaemonUnreachableError(`the daemon answered ${res.status}: ${json.error ?? ''}`);
      return json;
    },
  };
}
