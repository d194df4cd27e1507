/**
 * Glossary. These words mean exactly this everywhere in ccm-sync.
 *
 * - operation: one local change (INSERT, UPDATE or DELETE of one record of one table), with a
 *   globally unique op_id, a priority and its own change time (changed_at).
 * - outbox: the durable local table `sync_queue` where every operation is recorded before anything
 *   else happens. An operation leaves the outbox only by being settled.
 * - record: the first stage; validates operations and writes them to the outbox in one transaction.
 * - trigger: the reason a sync starts (periodic, threshold_*, urgent, critical_error, security,
 *   context_change, online, offline, manual, ...).
 * - sync job: a durable job in the job runner (liteque) carrying a trigger and optional limits. A
 *   burst of triggers coalesces into a bounded number of sync jobs.
 * - batch: what one upload sends: `{system_id, sync_timestamp, operations: [...]}`, capped by
 *   operation count and by bytes.
 * - packaging: turning a page of pending operations into batches: coalescing several operations
 *   on one record into one, aggregating hook events into task summaries, enforcing the caps.
 * - upload: one `batch_sync` call to the remote through a transport.
 * - settle: writing each result back to the outbox: synced, stale (synced, remote kept), conflict,
 *   failed (after retries), or still pending with a retry time.
 * - conflict: the remote row is newer than the operation. Under last-write-wins the remote is kept
 *   (result `stale`); under manual review the operation waits in status `conflict` for a person.
 * - version: when a write happened, as (change time, outbox position). Last-write-wins compares
 *   versions per column (see supabase/migrations/20261126000000_ccm_sync_contract.sql).
 * - dead letter: an operation in status `failed`, which no sync sends again until a person retries
 *   or discards it (`ccm-sync failed`).
 */

export const PRIORITIES = ['urgent', 'high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const OPERATIONS = ['INSERT', 'UPDATE', 'DELETE'] as const;
export type OperationKind = (typeof OPERATIONS)[number];

/** What a caller hands to `record()`. Field names are the outbox's own. */
export interface OperationInput {
  operation: OperationKind;
  table_name: string;
  record_id: string;
  record_data?: Record<string, unknown> | null;
  priority?: Priority;
  /** When the change happened (ISO 8601). Defaults to the time of recording. */
  changed_at?: string;
}

/** One row of the outbox as the worker reads it. */
export interface OutboxRow {
  id: number;
  op_id: string;
  operation: OperationKind;
  table_name: string;
  record_id: string;
  record_data: string | null;
  priority: Priority;
  changed_at: string;
  created_at: string;
  retry_count: number;
}

/** One operation as it travels in a batch. */
export interface WireOperation {
  op_id: string;
  operation: OperationKind;
  table: string;
  record_id: string;
  data: Record<string, unknown>;
  changed_at: string;
  seq: number;
  conflict?: 'lww' | 'manual';
  force?: boolean;
  /** Other outbox operations this one stands for after coalescing or aggregation. */
  source_ids?: string[];
  /** Keys whose version differs from the operation's own: [changed_at, seq] of their last write. */
  versions?: Record<string, [string, number]>;
  /** The highest outbox position among the operations this one stands for (ledger pruning). */
  ledger_seq?: number;
}

/** What a system says about itself with every batch (the fleet view reads it). */
export interface Heartbeat {
  type: string;
  version: string;
  backlog: number;
  failed: number;
  connection: string;
  alerts: string[];
  last_sync_at: string | null;
  /** When the supabase token this system syncs with expires (null: unknown, or another remote). */
  token_expires_at?: string | null;
  /** The installation that sent it (src/remote/identity.ts), and its host's name. */
  instance?: string;
  host?: string;
  at: string;
}

export interface Batch {
  system_id: string;
  sync_timestamp: string;
  operations: WireOperation[];
  /** Every outbox position at or below this is settled locally and will never be sent again. */
  settled_through?: number;
  /** Ask the remote to prune this system's ledger up to settled_through. */
  prune_ledger?: boolean;
  heartbeat?: Heartbeat;
  /**
   * Ask for a compact answer (remote schema 5 on): a result only for the operations that were not
   * simply applied. The transport expands it back to one result per operation (checkResults).
   */
  answers?: 'compact';
}

export const REMOTE_STATUSES = ['applied', 'duplicate', 'stale', 'conflict', 'rejected'] as const;
export type RemoteStatus = (typeof REMOTE_STATUSES)[number];

export interface RemoteResult {
  op_id: string;
  status: RemoteStatus;
  first_status?: string;
  sqlstate?: string;
  message?: string;
  /** The row as it now is, when the operation lost a column (or all of them) to a newer write. */
  remote?: Record<string, unknown> | null;
  /** With sqlstate CCM01: the system's settled watermark on the remote. */
  watermark?: number;
}

export const TRIGGER_TYPES = [
  'manual',
  'periodic',
  'scheduled',
  'startup',
  'threshold_total',
  'threshold_tasks',
  'threshold_errors',
  'threshold_contexts',
  'urgent',
  'critical_error',
  'security',
  'context_change',
  'online',
  'offline',
  'drain',
  'retry',
] as const;
export type TriggerType = (typeof TRIGGER_TYPES)[number];

/** Optional limits a sync job may carry. */
export interface SyncLimits {
  maxOperations?: number;
  batchSize?: number;
  tables?: string[];
  /** Apply selective sync whatever the backlog (set after a long offline period). */
  selective?: boolean;
}

/** The durable sync job payload. */
export interface SyncJobPayload {
  trigger: TriggerType;
  reason: string;
  limits?: SyncLimits;
}

/** One reason operations are held back, and how many share it. */
export interface Reason {
  code: string | null;
  message: string;
  count: number;
}

/** What is still held back after a sync, and why. */
export interface HeldBack {
  /** Operations still pending (waiting for a retry time, or not reached by this sync's limits). */
  pending: number;
  /** Of those, waiting out a retry delay; the earliest next try. */
  waiting: number;
  next_attempt_at: string | null;
  waiting_reasons: Reason[];
  /** Dead letters: not sent again until a person retries or discards them. */
  failed: number;
  failed_reasons: Reason[];
  /** Held for manual conflict review. */
  conflicts: number;
}

/** The design's result of one sync. */
export interface SyncResult {
  status: 'synced' | 'nothing_to_sync' | 'partial' | 'failed';
  trigger: TriggerType;
  operations_synced: number;
  operations_failed: number;
  operations_stale: number;
  operations_conflict: number;
  operations_pending_retry: number;
  batches: number;
  bytes_sent: number;
  /** Operations and bytes before packaging, for the reduction figures. */
  operations_in: number;
  bytes_in: number;
  operations_out: number;
  duration_ms: number;
  error?: string;
  /** With error, through the daemon: the exit code a CLI that ran it in-process would end with (2: config or input). */
  exit_code?: number;
  /** Why a sync job did nothing: paused, offline, sync.enabled false. */
  skipped?: string;
  /** What is still held back after it (absent for a skipped sync). */
  held?: HeldBack;
}
