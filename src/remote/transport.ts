/**
 * Stage 5, remote (the upload): the one interface every remote implements, and the rule that sorts remote
 * failures into retryable and permanent.
 *
 * Retryable (RemoteUnavailableError; the job backs off, operations stay pending, and repeated
 * failures mark the system offline): connection refused or reset, DNS failure, timeout, HTTP 5xx,
 * 408 and 429, and the transient SQLSTATE classes batch_sync re-raises (40, 53, 57, 58, 08, XX).
 * A statement timeout (57014) is one of them, and the sync run answers it by splitting the batch
 * (see ./upload.ts).
 * Permanent (RemoteRejectedError): anything else that fails the whole call, such as a missing
 * system_id claim (42501), a missing migration (42883, PGRST202) or a bad JWT (401).
 *
 * One operation's rejection (inside a batch_sync answer) is judged by `isPermanentRejection`.
 */
import { CredentialRefusedError, RemoteRejectedError, RemoteUnavailableError } from '../errors.ts';
import type { Batch, RemoteResult } from '../types.ts';

export type RemoteKind = 'embedded' | 'postgres' | 'supabase';

/** An operation to verify against the ledger: its id and the highest outbox position it stands for. */
export interface VerifyItem {
  op_id: string;
  seq: number;
}

export interface Verification {
  /** Not in the ledger, and above the position it was pruned to: never applied. */
  missing: string[];
  /** Not in the ledger, but at or below the position it was pruned to. */
  pruned: string[];
}

/** The remote schema this ccm-sync speaks (ccm_sync_info().schema). */
export const REMOTE_SCHEMA_VERSION = 2;

/** The first remote schema that answers compactly when asked (./answers.ts). */
export const COMPACT_ANSWERS_SCHEMA = 5;

/** The schema supabase/migrations bring a remote to (the newest migration's ccm_sync_info().schema). */
export const NEWEST_REMOTE_SCHEMA = 5;

/** What `remote query` gives back: the column names and the rows as arrays (query-answer.ts). */
export interface QueryAnswer {
  columns: string[];
  rows: unknown[][];
}

export interface Transport {
  readonly kind: RemoteKind;
  /** Calls batch_sync once. Resolves with one result per operation, or throws a typed error. */
  upload(batch: Batch, signal?: AbortSignal): Promise<RemoteResult[]>;
  /** A cheap round trip that proves the remote answers. */
  ping(signal?: AbortSignal): Promise<void>;
  /** The remote's clock (ccm_ping), as an ISO time: `doctor` measures the skew against ours. */
  now(signal?: AbortSignal): Promise<string>;
  /** How many other systems' rows this system can read (ccm_visible_systems): 0 when row-level security holds. */
  othersVisible(signal?: AbortSignal): Promise<number>;
  /** What the remote speaks: {schema}. Throws RemoteRejectedError when it predates ccm_sync_info. */
  info(signal?: AbortSignal): Promise<{ schema: number }>;
  /**
   * The heartbeat this system's row on the remote holds (null: none yet), as this system may read
   * it: which installation last synced as this system (./identity.ts). The embedded remote, which
   * holds one home only, has none.
   */
  ownHeartbeat?(signal?: AbortSignal): Promise<unknown>;
  /** Which of these operations the remote ledger does not hold. */
  verify(items: readonly VerifyItem[]): Promise<Verification>;
  /** One statement in a read-only transaction (embedded and postgres; `ccm-sync remote query`). */
  readOnly?(sql: string, timeoutMs: number, params?: readonly unknown[]): Promise<QueryAnswer>;
  close(): Promise<void>;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH',
  'ENETUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ABORT_ERR',
]);

/**
 * Whether `code` is a SQLSTATE: five digits or upper-case letters, with at least one digit. Every
 * SQLSTATE class has one (XX000, P0001, 57014), and the errno codes Node puts in the same `code`
 * field never do: EPIPE is five letters too, and is a dead socket, not a statement the server refused.
 */
export function isSqlState(code: unknown): code is string {
  return typeof code === 'string' && /^(?=.*[0-9])[0-9A-Z]{5}$/.test(code);
}

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
export function classifyFailure(kind: RemoteKind, f: FailureFacts): RemoteUnavailableError | RemoteRejectedError | CredentialRefusedError {
  const err = classify(kind, f);
  if (f.sqlstate) err.sqlstate = f.sqlstate;
  return err;
}

/**
 * A connection a pooler refused, by its real cause. PgBouncer and Supavisor answer these with
 * SQLSTATE 08P01 or none at all, which would otherwise read as a network fault and be retried
 * for ever: a wrong database or user name, or a startup parameter, fails the same way every time.
 */
function poolerRefusal(where: string, f: FailureFacts): RemoteUnavailableError | RemoteRejectedError | undefined {
  const m = f.message;
  const param = /unsupported startup parameter:?\s*(\S+)/i.exec(m)?.[1];
  if (param) return new RemoteRejectedError(`${where}: the connection pooler refused the startup parameter ${param}; remove it from CCM_SYNC_DATABASE_URL (options=…, or a pooler setting), since a transaction pooler takes none`);
  if (/no more connections allowed|max_client_conn|too many (clients|connections)|Max client connections reached/i.test(m)) {
    return new RemoteUnavailableError(`${where}: the connection pooler or server has no room for another client (${m}); ccm-sync retries with backoff. Raise max_client_conn or the pool size, or lower the fleet's connections`);
  }
  const db = /no such database:?\s*(\S+)/i.exec(m)?.[1];
  if (db) return new RemoteRejectedError(`${where}: the connection pooler knows no database ${db}; check the database name in CCM_SYNC_DATABASE_URL`);
  if (/Tenant or user not found/i.test(m)) return new RemoteRejectedError(`${where}: Supavisor found no project for this user (${m}); on Supabase's pooler the user is postgres.<project-ref> (Connect → Transaction pooler)`);
  if (f.sqlstate === '28P01' || f.sqlstate === '28000' || /password authentication failed|SASL authentication failed/i.test(m)) {
    return new RemoteRejectedError(`${where} refused the login (${f.sqlstate ?? 'auth'}): ${m}; check the user and password in CCM_SYNC_DATABASE_URL`);
  }
  return undefined;
}

/**
 * A TLS connection that cannot be made: the same every time, so not an outage. Supabase's
 * databases present a certificate of Supabase's own CA, which Node does not trust by itself.
 */
function tlsRefusal(where: string, f: FailureFacts): RemoteRejectedError | undefined {
  // Certificate verification only: a handshake that timed out or a bad record is a network fault.
  if (f.networkCode && /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(f.networkCode)) {
    return new RemoteRejectedError(`${where}: the server's TLS certificate is not trusted (${f.networkCode}: ${f.message}). For a Supabase database, download its CA certificate (Database Settings → SSL Configuration) and add sslrootcert=<the file's path> to CCM_SYNC_DATABASE_URL, with sslmode=verify-full`);
  }
  if (/does not support SSL/i.test(f.message)) {
    return new RemoteRejectedError(`${where}: ${f.message}; remove sslmode from CCM_SYNC_DATABASE_URL, or turn SSL on at the server`);
  }
  return undefined;
}

/** A network failure as supabase-js (fetch) reports it. */
const FETCH_NETWORK_CODE = /\b(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ECONNABORTED|UND_ERR_[A-Z_]+)\b/;

/** The first line of a network failure's cause, and its code. */
export function networkCause(details: string | undefined, message: string): { code: string; line: string } {
  const text = details ?? message;
  const code = FETCH_NETWORK_CODE.exec(text)?.[1] ?? 'ECONNRESET';
  const caused = /Caused by: ([^\n]+)/.exec(text)?.[1];
  return { code, line: caused ?? message.split('\n')[0]! };
}

const WAITING = 'syncs wait meanwhile, and nothing is dropped';

/** A 401 or 403 over HTTP, by what PostgREST or the API gateway said, and what to do about it. */
function credentialRefusal(where: string, f: FailureFacts): CredentialRefusedError {
  const said = `(HTTP ${f.httpStatus}${f.sqlstate ? ` ${f.sqlstate}` : ''}: ${f.message})`;
  if (/expired/i.test(f.message)) {
    return new CredentialRefusedError(`${where} refused this machine's token: it has expired ${said}. Mint a fresh one (\`ccm-sync remote token\`) and put it in remote.access_token_file or CCM_SYNC_ACCESS_TOKEN; ${WAITING}`);
  }
  if (/Invalid API key|apikey/i.test(f.message)) {
    return new CredentialRefusedError(`${where} refused the API key ${said}: SUPABASE_PUBLISHABLE_KEY must be this project's publishable key (sb_publishable_…, Project Settings → API Keys), and the token goes in CCM_SYNC_ACCESS_TOKEN or remote.access_token_file, never in the key; ${WAITING}`);
  }
  if (f.sqlstate === 'PGRST302') {
    return new CredentialRefusedError(`${where} got no token ${said}: set CCM_SYNC_ACCESS_TOKEN or remote.access_token_file to this machine's token (\`ccm-sync remote token\`); ${WAITING}`);
  }
  return new CredentialRefusedError(`${where} refused this machine's token ${said}. Check on the project's JWT Keys page that the key which signed it (its kid) is the current key or a previously used one that is not revoked, that the token's role and aud are authenticated, and, after importing or rotating a key, allow about 20 minutes for the keys to reach every server (README: Connecting a Supabase project); ${WAITING}`);
}

function classify(kind: RemoteKind, f: FailureFacts): RemoteUnavailableError | RemoteRejectedError | CredentialRefusedError {
  const where = `${kind} remote`;
  const refused = poolerRefusal(where, f);
  if (refused) return refused;
  if (f.networkCode === 'ECONNREFUSED') return new RemoteUnavailableError(`${where} refused the connection (ECONNREFUSED): nothing listens at its address; is it running, and is the URL right?`);
  const tls = tlsRefusal(where, f);
  if (tls) return tls;
  if (f.sqlstate === '57014') return new RemoteUnavailableError(`${where} cancelled the statement (57014, statement timeout): ${f.message}`);
  if (f.timedOut) return new RemoteUnavailableError(`${where} timed out: ${f.message}`);
  if (f.networkCode && (NETWORK_CODES.has(f.networkCode) || /^ERR_(TLS|SSL)_/.test(f.networkCode))) return new RemoteUnavailableError(`${where} unreachable (${f.networkCode}): ${f.message}`);
  if (isTransientSqlState(f.sqlstate)) return new RemoteUnavailableError(`${where} transient error ${f.sqlstate}: ${f.message}`);
  if (f.httpStatus !== undefined && (f.httpStatus === 0 || f.httpStatus >= 500 || f.httpStatus === 408 || f.httpStatus === 429)) {
    return new RemoteUnavailableError(`${where} answered HTTP ${f.httpStatus}: ${f.message}`);
  }
  if (f.sqlstate === '42883' || f.sqlstate === 'PGRST202' || f.sqlstate === '42P01' || f.sqlstate === '3F000') {
    return new RemoteRejectedError(`${where} has no ccm-sync schema (${f.message}); apply supabase/migrations (\`ccm-sync remote migrate\` for postgres/embedded)`);
  }
  if (f.sqlstate === '42501') return new RemoteRejectedError(`${where} refused the caller: ${f.message}`);
  if (f.httpStatus === 401 || (f.httpStatus === 403 && /JWT|token|apikey|API key/i.test(f.message))) return credentialRefusal(where, f);
  return new RemoteRejectedError(`${where} rejected the call${f.sqlstate ? ` (${f.sqlstate})` : ''}: ${f.message}`);
}

/**
 * Whether one operation's rejection is permanent: the same data would be refused again, so it is
 * dead-lettered at once instead of retried. SQLSTATE classes 22 (data), 23 (constraint) and 42
 * (schema, permission), and ccm-sync's own codes (CCMxx). Anything else is retried with backoff.
 */
export function isPermanentRejection(sqlstate: string | undefined): boolean {
  if (!sqlstate) return false;
  return ['22', '23', '42'].includes(sqlstate.slice(0, 2)) || sqlstate.startsWith('CCM');
}

/** What a person should change after a permanent rejection with this SQLSTATE. */
export function remediation(sqlstate: string | undefined): string {
  switch (sqlstate?.slice(0, 2)) {
    case '42':
      if (sqlstate === '42501') return 'Fix: the remote refused the permission; check the system\'s JWT (its system_id claim) and that the newest supabase/migrations are applied.';
      return 'Fix: the remote\'s schema does not match (a table or column is missing or has another type); apply the newest supabase/migrations, or change the record, then `ccm-sync failed retry`.';
    case '22':
      return 'Fix: a value does not fit its column (see `ccm-sync tables`); record a corrected operation and `ccm-sync failed discard` this one.';
    case '23':
      return 'Fix: a constraint on the remote refused the record; change the record or the constraint, then `ccm-sync failed retry` or `discard`.';
    default:
      return 'See `ccm-sync failed show` for the operation, then retry or discard it.';
  }
}

/** Checks the remote's ccm_sync_info() answer against the schema this ccm-sync speaks. */
export function checkInfo(kind: RemoteKind, value: unknown): { schema: number } {
  if (value === null || value === undefined) {
    throw new RemoteRejectedError(`${kind} remote is not migrated for ccm-sync (it has no ccm_sync_info()): run \`ccm-sync remote migrate\` (postgres, embedded), or apply supabase/migrations to the project (\`supabase db push\`, or \`ccm-sync remote sql\` in the SQL editor)`);
  }
  const schema = Number((value as { schema?: unknown } | null)?.schema);
  if (!(schema >= REMOTE_SCHEMA_VERSION)) {
    throw new RemoteRejectedError(`${kind} remote speaks ccm-sync schema ${Number.isFinite(schema) ? schema : '(unknown)'}, this ccm-sync needs ${REMOTE_SCHEMA_VERSION}: apply the new files in supabase/migrations (\`ccm-sync remote migrate\` for postgres/embedded)`);
  }
  return { schema };
}
