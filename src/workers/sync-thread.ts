/**
 * The sync worker thread, both sides of it. A sync runs in a thread of its own so that a long
 * drain never blocks the daemon's API, triggers or timers.
 *
 * - `SyncWorkerHost` (main thread) starts the thread, sends it requests and maps answers back to
 *   promises. If the thread dies, the requests in flight there fail with a WorkerCrashError (a
 *   local failure: the job is retried, and the remote is not judged unreachable for it); requests
 *   already sent to its replacement are untouched. The next request after a death starts a fresh
 *   thread.
 * - `serveSyncWorker` (in the thread, started by ./sync-worker.ts) owns its own SQLite connection
 *   and its own transport, and answers: run a sync (`runSync`, ./sync-run.ts), probe the remote,
 *   check the ledger, prune, heartbeat. Syncs run one at a time, in the order asked: a `run` that
 *   arrives while one is running waits for it, so two sync loops never overlap on one outbox.
 *   Testable in-process: pass any MessagePort-like pair.
 */
import { Worker } from 'node:worker_threads';
import { ConfigError, WorkerCrashError, fromPlainError, toPlainError, type PlainError } from '../errors.ts';
import { openLocal, syncContext } from '../local.ts';
import { heartbeatOf } from '../monitor/heartbeat.ts';
import { openTransport } from '../remote/index.ts';
import { pruneHistory, type PruneResult } from '../retention.ts';
import { runSync, type SyncProgress } from './sync-run.ts';
import { uploader } from '../remote/upload.ts';
import { installationOf } from '../remote/identity.ts';
import type { Settings } from '../config/load.ts';
import type { QueryAnswer, Transport, Verification, VerifyItem } from '../remote/transport.ts';
import type { SyncJobPayload, SyncResult } from '../types.ts';

export type HostMessage =
  | { type: 'run'; id: number; payload: SyncJobPayload }
  | { type: 'ping'; id: number }
  | { type: 'verify'; id: number; items: VerifyItem[] }
  | { type: 'query'; id: number; sql: string; timeoutMs: number; params?: unknown[] }
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

// Under the test runner this module is TypeScript, and Node runs the .ts worker entry natively.
const ENTRY = new URL(`./sync-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
interface Pending {
  worker: Worker;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  onProgress?: (p: SyncProgress) => void;
}

export interface WorkerHostOptions {
  /** Heap limit of the thread; pages are bounded by bytes, so this is a safety net. */
  maxOldGenerationSizeMb?: number;
  /** Told when a thread dies, with why (the daemon logs it). */
  onCrash?: (why: string) => void;
}

export class SyncWorkerHost {
  private worker?: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly settings: Settings;
  private readonly opts: WorkerHostOptions;
  private closed = false;
  /** Threads started so far (1 + restarts after crashes). */
  started = 0;

  constructor(settings: Settings, opts: WorkerHostOptions = {}) {
    this.settings = settings;
    this.opts = opts;
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    // The worker streams pages bounded by rows and bytes; a small young generation keeps its
    // resident memory flat during a long drain (see BENCHMARKS.md, 1,000,000 operations).
    const w = new Worker(ENTRY, {
      workerData: this.settings,
      resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: this.opts.maxOldGenerationSizeMb ?? 256 },
    });
    this.started++;
    w.on('message', (msg: WorkerMessage) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      if (msg.type === 'progress') {
        p.onProgress?.(msg.progress as SyncProgress);
        return;
      }
      this.pending.delete(msg.id);
      if (msg.type === 'done') p.resolve(msg.value);
      else p.reject(fromPlainError(msg.error));
    });
    let why: string | undefined;
    w.on('error', (err) => {
      why ??= `crashed: ${err.message}`;
    });
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = undefined;
      const reason = why ?? `exited with code ${code}`;
      let failed = 0;
      for (const [id, p] of this.pending) {
        if (p.worker !== w) continue;
        this.pending.delete(id);
        p.reject(new WorkerCrashError(`the sync worker thread ${reason}; the job will be retried on a fresh thread`));
        failed++;
      }
      if (!this.closed && (why || failed)) this.opts.onCrash?.(reason);
    });
    this.worker = w;
    return w;
  }

  private request<T>(msg: WithoutId<HostMessage>, onProgress?: (p: SyncProgress) => void): { id: number; promise: Promise<T> } {
    if (this.closed) throw new Error('sync worker is closed');
    const id = this.nextId++;
    const worker = this.ensure();
    const promise = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { worker, resolve: resolve as (v: unknown) => void, reject, onProgress });
    });
    worker.postMessage({ ...msg, id } as HostMessage);
    return { id, promise };
  }

  /** Runs one sync in the thread. Aborting the signal aborts the upload in flight. */
  async run(payload: SyncJobPayload, signal?: AbortSignal, onProgress?: (p: SyncProgress) => void): Promise<SyncResult> {
    const { id, promise } = this.request<SyncResult>({ type: 'run', payload }, onProgress);
    const target = this.pending.get(id)?.worker;
    const onAbort = () => target?.postMessage({ type: 'abort', id } satisfies HostMessage);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await promise;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async ping(): Promise<void> {
    await this.request<void>({ type: 'ping' }).promise;
  }

  async verify(items: VerifyItem[]): Promise<Verification> {
    return this.request<Verification>({ type: 'verify', items }).promise;
  }

  /** One read-only statement on the remote, through the worker's connection (`remote query`, and fleet, report and doctor on the embedded remote). */
  async query(sql: string, timeoutMs: number, params?: unknown[]): Promise<QueryAnswer> {
    return this.request<QueryAnswer>({ type: 'query', sql, timeoutMs, ...(params ? { params } : {}) }).promise;
  }

  /**
   * Ends the current thread (what it holds fails with WorkerCrashError); the next request starts a
   * fresh one. For a thread that stopped answering.
   */
  async restart(): Promise<void> {
    const old = this.worker;
    this.worker = undefined; // requests from now on go to a fresh thread
    await old?.terminate();
  }

  /** Prunes the local history in the thread (retention), in bounded chunks. */
  async prune(syncedDays?: number): Promise<PruneResult> {
    return this.request<PruneResult>({ type: 'prune', ...(syncedDays ? { syncedDays } : {}) }).promise;
  }

  /** Tells the remote this system is alive, with its heartbeat, in an empty batch. */
  async heartbeat(): Promise<void> {
    await this.request<void>({ type: 'heartbeat' }).promise;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const w = this.worker;
    if (w) {
      await this.request<void>({ type: 'close' }).promise.catch(() => undefined);
      this.closed = true;
      await w.terminate();
    }
    this.closed = true;
  }
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
        // `remote query`, fleet, report and doctor while this daemon holds the embedded remote: read through its connection.
        const t = await getTransport();
        if (!t.readOnly) throw new ConfigError(`remote query does not work on the ${t.kind} remote`);
        return t.readOnly(msg.sql, msg.timeoutMs, msg.params);
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
        await uploader(t, settings.system.id, local.clock, installationOf(local.state)).upload([], { heartbeat: heartbeatOf(local, settings), settled_through: local.outbox.settledThrough() });
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

  answerOn(port, handle);
}

/** Each request's answer goes back with its id; an abort is not answered. */
function answerOn(port: Port, handle: (msg: HostMessage) => Promise<unknown>): void {
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

