/**
 * What runs inside the sync worker thread: it owns its own SQLite connection and its own transport,
 * and answers the host's requests (run a sync, probe the remote, check the ledger). Syncs run one
 * at a time, in the order asked: a `run` that arrives while one is running waits for it, so two
 * sync loops never overlap on one outbox. Testable in-process: pass any MessagePort-like pair.
 */
import { toPlainError, type PlainError } from '../errors.ts';
import { openLocal, syncContext } from '../local.ts';
import { heartbeatOf } from '../monitor/heartbeat.ts';
import { openTransport } from '../remote/index.ts';
import { pruneHistory } from '../retention.ts';
import { runSync } from './sync-run.ts';
import { uploader } from './upload.ts';
import type { Settings } from '../config/load.ts';
import { ConfigError } from '../errors.ts';
import type { Transport, VerifyItem } from '../remote/transport.ts';
import type { SyncJobPayload } from '../types.ts';

export type HostMessage =
  | { type: 'run'; id: number; payload: SyncJobPayload }
  | { type: 'ping'; id: number }
  | { type: 'verify'; id: number; items: VerifyItem[] }
  | { type: 'query'; id: number; sql: string; timeoutMs: number }
  | { type: 'prune'; id: number; syncedDays?: number }
  | { type: 'heartbeat'; id: number }
  | { type: 'abort'; id: number }
  | { type: 'close'; id: number };

export type WorkerMessage =
  | { type: 'done'; id: number; value: unknown }
  | { type: 'error'; id: number; error: PlainError }
  | { type: 'progress'; id: number; progress: unknown };

export interface Port {
  on(event: 'message', fn: (msg: HostMessage) => void): unknown;
  postMessage(msg: WorkerMessage): void;
  close?(): void;
}

export function serveSyncWorker(port: Port, settings: Settings): void {
  const local = openLocal(settings);
  let transport: Promise<Transport> | undefined;
  const getTransport = () => {
    transport ??= openTransport(settings).catch((err: unknown) => {
      transport = undefined; // try again on the next request
      throw err;
    });
    return transport;
  };
  const aborts = new Map<number, AbortController>();
  let runs: Promise<unknown> = Promise.resolve();

  const run = async (id: number, payload: SyncJobPayload): Promise<unknown> => {
    const ac = aborts.get(id)!;
    ac.signal.throwIfAborted();
    const ctx = syncContext(local, settings, await getTransport(), {
      signal: ac.signal,
      onProgress: (progress) => port.postMessage({ type: 'progress', id, progress }),
      heartbeat: () => heartbeatOf(local, settings),
    });
    return runSync(ctx, payload);
  };

  const handle = async (msg: HostMessage): Promise<unknown> => {
    switch (msg.type) {
      case 'run': {
        aborts.set(msg.id, new AbortController());
        const mine = runs.then(() => run(msg.id, msg.payload));
        runs = mine.catch(() => undefined);
        try {
          return await mine;
        } finally {
          aborts.delete(msg.id);
        }
      }
      case 'ping':
        return (await getTransport()).ping(AbortSignal.timeout(settings.sync.request_timeout_ms));
      case 'verify':
        return (await getTransport()).verify(msg.items);
      case 'query': {
        // `remote query` while this daemon holds the embedded remote: read through its connection.
        const t = await getTransport();
        if (!t.readOnly) throw new ConfigError(`remote query does not work on the ${t.kind} remote`);
        return t.readOnly(msg.sql, msg.timeoutMs);
      }
      case 'prune': {
        // In the chain of runs: one writer of the history at a time.
        const retention = msg.syncedDays ? { ...settings.retention, synced_days: msg.syncedDays } : settings.retention;
        const mine = runs.then(() => pruneHistory(local, { retention, monitoring: settings.monitoring }));
        runs = mine.catch(() => undefined);
        return mine;
      }
      case 'heartbeat': {
        const t = await getTransport();
        await uploader(t, settings.system.id, local.clock).upload([], { heartbeat: heartbeatOf(local, settings), settled_through: local.outbox.settledThrough() });
        return undefined;
      }
      case 'abort':
        aborts.get(msg.id)?.abort(new Error('sync job timed out or was cancelled'));
        return undefined;
      case 'close':
        for (const ac of aborts.values()) ac.abort(new Error('the worker is closing'));
        await runs;
        if (transport) await (await transport.catch(() => undefined))?.close();
        local.close();
        return undefined;
    }
  };

  port.on('message', (msg) => {
    if (msg.type === 'abort') {
      void handle(msg);
      return;
    }
    handle(msg).then(
      (value) => port.postMessage({ type: 'done', id: msg.id, value }),
      (err: unknown) => port.postMessage({ type: 'error', id: msg.id, error: toPlainError(err) }),
    );
  });
}

