/** What one sync run is given (workers/sync-run.ts), shared with the module that ends a run (../settle/run-outcome.ts). */
import type { Clock } from '../clock.ts';
import type { Db } from '../store/db.ts';
import type { MetricsStore } from '../store/metrics.ts';
import type { Outbox } from '../store/outbox.ts';
import type { Review } from '../store/review.ts';
import type { StateStore } from '../store/state.ts';
import type { Transport } from '../remote/transport.ts';
import type { Heartbeat } from '../types.ts';

export interface SyncRunOptions {
  systemId: string;
  maxOpsPerRequest: number;
  maxBytesPerRequest: number;
  pageSize: number;
  manualTables: readonly string[];
  /** hooks.upload: extras of a task summary beyond the counts (e.g. prompts). */
  hookUploads?: readonly string[];
  /** hooks.paths: hashed: the fleet's salt (CCM_SYNC_PATH_SALT). */
  pathSalt?: string;
  /** sync.retry, as the config has it (../settle/settle.ts uses the same names). */
  retry: { base_delay_ms: number; max_delay_ms: number; jitter: number; operation_max_attempts: number };
  selective: { backlog_operations: number; first_tables: readonly string[]; hook_events: 'summarise' | 'skip' };
  /** Ask the remote to prune the ledger at most this often (undefined: never). */
  pruneLedgerEveryMs?: number;
}

export interface SyncProgress {
  trigger: string;
  done: number;
  total: number;
  batches: number;
}

export interface SyncContext {
  db: Db;
  outbox: Outbox;
  review: Review;
  metrics: MetricsStore;
  state: StateStore;
  transport: Transport;
  clock: Clock;
  options: SyncRunOptions;
  signal?: AbortSignal;
  onProgress?: (p: SyncProgress) => void;
  /** What this system says about itself with the first batch of the run. */
  heartbeat?: () => Heartbeat;
}
