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
 */

export const PRIORITIES = ['urgent', 'high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const OPERATIONS = ['INSERT', 'UPDATE', 'DELETE'] as const;
export type OperationKind = (typeof OPERATIONS)[number];

/** Tables the remote migration creates and batch_sync accepts. */
export const REMOTE_TABLES = [
  'tasks',
  'supervisory_reports',
  'alerts',
  'contexts',
  'task_summaries',
  'system_status',
] as const;
/** Tables that stay local and reach the remote only through a packager (hook_events → task_summaries). */
export const LOCAL_TABLES = ['hook_events'] as const;
export const SYNC_TABLES = [...REMOTE_TABLES, ...LOCAL_TABLES] as const;
export type SyncTable = (typeof SYNC_TABLES)[number];

export type OperationStatus = 'pending' | 'synced' | 'failed' | 'conflict';

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
}

export interface Batch {
  system_id: string;
  sync_timestamp: string;
  operations: WireOperation[];
}

export type RemoteStatus = 'applied' | 'duplicate' | 'stale' | 'conflict' | 'rejected';

export interface RemoteResult {
  op_id: string;
  status: RemoteStatus;
  first_status?: string;
  sqlstate?: string;
  message?: string;
  remote?: Record<string, unknown> | null;
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
  /** Why a sync job did nothing: paused, offline, sync.enabled false. */
  skipped?: string;
}
