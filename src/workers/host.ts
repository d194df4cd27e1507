/**
 * The main-thread side of the long-lived sync worker thread. It starts the thread, sends it
 * requests and maps answers back to promises. If the thread dies, the requests in flight there
 * fail with a WorkerCrashError (a local failure: the job is retried, and the remote is not judged
 * unreachable for it); requests already sent to its replacement are untouched. The next request
 * after a death starts a fresh thread.
 */
import { Worker } from 'node:worker_threads';
import { WorkerCrashError, fromPlainError } from '../errors.ts';
import type { Settings } from '../config/load.ts';
import type { HostMessage, WorkerMessage } from './serve.ts';
import type { SyncProgress } from './sync-run.ts';
import type { QueryAnswer, Verification, VerifyItem } from '../remote/transport.ts';
import type { SyncJobPayload, SyncResult } from '../types.ts';
import type { PruneResult } from '../retention.ts';

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

  /** One read-only statement on the remote, through the worker's connection (`remote query`). */
  async query(sql: string, timeoutMs: number): Promise<QueryAnswer> {
    return this.request<QueryAnswer>({ type: 'query', sql, timeoutMs }).promise;
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
