/**
 * The main-thread side of the long-lived sync worker thread. It starts the thread, sends it
 * requests and maps answers back to promises. If the thread dies, every request in flight fails
 * with a retryable error (the job runner retries it) and the next request starts a fresh thread.
 */
import { Worker } from 'node:worker_threads';
import { RemoteUnavailableError, fromPlainError } from '../errors.ts';
import type { Settings } from '../config/load.ts';
import type { HostMessage, WorkerMessage } from './serve.ts';
import type { SyncProgress } from './sync-run.ts';
import type { SyncJobPayload, SyncResult } from '../types.ts';

// Under the test runner this module is TypeScript, and Node runs the .ts worker entry natively.
const ENTRY = new URL(`./sync-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void; onProgress?: (p: SyncProgress) => void };

export class SyncWorkerHost {
  private worker?: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly settings: Settings;
  private closed = false;

  constructor(settings: Settings) {
    this.settings = settings;
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    // The worker streams pages of at most sync.page_size rows; a small young generation keeps its
    // resident memory flat during a long drain (see BENCHMARKS.md, 1,000,000 operations).
    const w = new Worker(ENTRY, { workerData: this.settings, resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 256 } });
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
    const fail = (why: string) => {
      if (this.worker === w) this.worker = undefined;
      for (const p of this.pending.values()) p.reject(new RemoteUnavailableError(`sync worker ${why}; the job will be retried`));
      this.pending.clear();
    };
    w.on('error', (err) => fail(`crashed: ${err.message}`));
    w.on('exit', (code) => fail(`exited with code ${code}`));
    this.worker = w;
    return w;
  }

  private request<T>(msg: WithoutId<HostMessage>, onProgress?: (p: SyncProgress) => void): { id: number; promise: Promise<T> } {
    if (this.closed) throw new Error('sync worker is closed');
    const id = this.nextId++;
    const promise = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress });
    });
    this.ensure().postMessage({ ...msg, id } as HostMessage);
    return { id, promise };
  }

  /** Runs one sync in the thread. Aborting the signal aborts the upload in flight. */
  async run(payload: SyncJobPayload, signal?: AbortSignal, onProgress?: (p: SyncProgress) => void): Promise<SyncResult> {
    const { id, promise } = this.request<SyncResult>({ type: 'run', payload }, onProgress);
    const onAbort = () => this.worker?.postMessage({ type: 'abort', id } satisfies HostMessage);
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

  async missing(opIds: string[]): Promise<string[]> {
    return this.request<string[]>({ type: 'missing', opIds }).promise;
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
