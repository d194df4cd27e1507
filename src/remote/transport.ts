/**
 * Stage 5, upload: the one interface every remote implements, and the rule that sorts remote
 * failures into retryable and permanent.
 *
 * Retryable (RemoteUnavailableError; the job backs off, operations stay pending, and repeated
 * failures mark the system offline): connection refused or reset, DNS failure, timeout, HTTP 5xx,
 * 408 and 429, and the transient SQLSTATE classes batch_sync re-raises (40, 53, 57, 58, 08, XX).
 * Permanent (RemoteRejectedError): anything else that fails the whole call, such as a missing
 * system_id claim (42501), a missing migration (42883, PGRST202) or a bad JWT (401).
 */
import { RemoteRejectedError, RemoteUnavailableError } from '../errors.ts';
import type { Batch, RemoteResult } from '../types.ts';

export type RemoteKind = 'embedded' | 'postgres' | 'supabase';

export interface Transport {
  readonly kind: RemoteKind;
  /** Calls batch_sync once. Resolves with one result per operation, or throws a typed error. */
  upload(batch: Batch, signal?: AbortSignal): Promise<RemoteResult[]>;
  /** A cheap round trip that proves the remote answers. */
  ping(signal?: AbortSignal): Promise<void>;
  /** Which of these op_ids the remote ledger does not hold. */
  missing(opIds: readonly string[]): Promise<string[]>;
  close(): Promise<void>;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH',
  'ENETUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ABORT_ERR',
]);

export function isTransientSqlState(state: string | undefined): boolean {
  if (!state) return false;
  return ['40', '53', '57', '58', '08', 'XX'].includes(state.slice(0, 2)) || state === '55P03';
}

export interface FailureFacts {
  message: string;
  sqlstate?: string;
  httpStatus?: number;
  networkCode?: string;
  timedOut?: boolean;
}

/** Sorts a failed call into a retryable or permanent error with a message that says what to do. */
export function classifyFailure(kind: RemoteKind, f: FailureFacts): RemoteUnavailableError | RemoteRejectedError {
  const where = `${kind} remote`;
  if (f.timedOut) return new RemoteUnavailableError(`${where} timed out: ${f.message}`);
  if (f.networkCode && NETWORK_CODES.has(f.networkCode)) return new RemoteUnavailableError(`${where} unreachable (${f.networkCode}): ${f.message}`);
  if (isTransientSqlState(f.sqlstate)) return new RemoteUnavailableError(`${where} transient error ${f.sqlstate}: ${f.message}`);
  if (f.httpStatus !== undefined && (f.httpStatus === 0 || f.httpStatus >= 500 || f.httpStatus === 408 || f.httpStatus === 429)) {
    return new RemoteUnavailableError(`${where} answered HTTP ${f.httpStatus}: ${f.message}`);
  }
  if (f.sqlstate === '42883' || f.sqlstate === 'PGRST202' || f.sqlstate === '42P01') {
    return new RemoteRejectedError(`${where} has no ccm-sync schema (${f.message}); apply supabase/migrations (\`ccm-sync remote migrate\` for postgres/embedded)`);
  }
  if (f.sqlstate === '42501') return new RemoteRejectedError(`${where} refused the caller: ${f.message}`);
  if (f.httpStatus === 401 || f.httpStatus === 403) {
    return new RemoteRejectedError(`${where} refused the credentials (HTTP ${f.httpStatus}): ${f.message}; check SUPABASE_ANON_KEY and CCM_SYNC_ACCESS_TOKEN`);
  }
  return new RemoteRejectedError(`${where} rejected the call${f.sqlstate ? ` (${f.sqlstate})` : ''}: ${f.message}`);
}

/** Checks that a batch_sync answer is one result per operation, in order. */
export function checkResults(kind: RemoteKind, batch: Batch, value: unknown): RemoteResult[] {
  if (!Array.isArray(value) || value.length !== batch.operations.length) {
    throw new RemoteRejectedError(`${kind} remote: batch_sync answered ${Array.isArray(value) ? `${value.length} results` : typeof value} for ${batch.operations.length} operations; is the migration current?`);
  }
  return value as RemoteResult[];
}
