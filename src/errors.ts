/**
 * The errors ccm-sync raises. Each has a stable `code`, and `is(err)` also matches on `name`,
 * because an error that crosses a worker thread arrives as a plain object without its prototype.
 *
 * Retryable: RemoteUnavailableError (network, timeout, 5xx, transient database errors). The job is
 * retried with backoff and the operations stay pending.
 * Permanent: everything else. ConfigError and InputError are the caller's to fix (exit code 2);
 * RemoteRejectedError and StoreError are runtime failures (exit code 1).
 */

interface ErrorLike {
  name?: unknown;
  code?: unknown;
}

/** Whether an error is retried and how a command exits on it: see isRetryable and exitCodeOf. */
abstract class CcmError extends Error {
  abstract readonly code: string;
  /** The remote's SQLSTATE (or PostgREST code), when the remote answered with one. */
  sqlstate?: string;
}

function matches(err: unknown, name: string): boolean {
  return typeof err === 'object' && err !== null && (err as ErrorLike).name === name;
}

/** A config file, env variable or option is wrong. */
export class ConfigError extends CcmError {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  static is(err: unknown): err is ConfigError {
    return err instanceof ConfigError || matches(err, 'ConfigError');
  }
}

/** An operation or command input is wrong; nothing was recorded. */
export class InputError extends CcmError {
  override readonly name = 'InputError';
  readonly code = 'INPUT_INVALID';
  static is(err: unknown): err is InputError {
    return err instanceof InputError || matches(err, 'InputError');
  }
}

/** The local database could not be written (disk full, read-only file, corrupt). */
export class StoreError extends CcmError {
  override readonly name = 'StoreError';
  readonly code = 'STORE_UNWRITABLE';
  static is(err: unknown): err is StoreError {
    return err instanceof StoreError || matches(err, 'StoreError');
  }
}

/** The remote could not be reached or failed transiently. Safe to retry. */
export class RemoteUnavailableError extends CcmError {
  override readonly name = 'RemoteUnavailableError';
  readonly code = 'REMOTE_UNAVAILABLE';
  static is(err: unknown): err is RemoteUnavailableError {
    return err instanceof RemoteUnavailableError || matches(err, 'RemoteUnavailableError');
  }
}

/** The remote refused the whole call (auth, missing migration, wrong system). Retrying will not help. */
export class RemoteRejectedError extends CcmError {
  override readonly name = 'RemoteRejectedError';
  readonly code = 'REMOTE_REJECTED';
  static is(err: unknown): err is RemoteRejectedError {
    return err instanceof RemoteRejectedError || matches(err, 'RemoteRejectedError');
  }
}

/**
 * The remote refused this machine's credential (an expired, revoked or wrongly signed token, a
 * wrong API key). Not an outage: the connection stays online and nothing is dead-lettered; syncs
 * wait, visibly, and the credential is tried again until a valid one is there.
 */
export class CredentialRefusedError extends CcmError {
  override readonly name = 'CredentialRefusedError';
  readonly code = 'CREDENTIAL_REFUSED';
  static is(err: unknown): err is CredentialRefusedError {
    return err instanceof CredentialRefusedError || matches(err, 'CredentialRefusedError');
  }
}

/** No daemon answers on the local API. */
export class DaemonUnreachableError extends CcmError {
  override readonly name = 'DaemonUnreachableError';
  readonly code = 'DAEMON_UNREACHABLE';
  static is(err: unknown): err is DaemonUnreachableError {
    return err instanceof DaemonUnreachableError || matches(err, 'DaemonUnreachableError');
  }
}

/** A daemon already runs on this home (it holds the home's lock). */
export class DaemonRunningError extends CcmError {
  override readonly name = 'DaemonRunningError';
  readonly code = 'DAEMON_RUNNING';
}

/** The daemon did not stop in the time given (`ccm-sync stop`). */
export class DaemonStillRunningError extends CcmError {
  override readonly name = 'DaemonStillRunningError';
  readonly code = 'DAEMON_STILL_RUNNING';
}

/** The daemon's API port is taken (by another daemon, or another program). */
export class PortInUseError extends CcmError {
  override readonly name = 'PortInUseError';
  readonly code = 'PORT_IN_USE';
  static is(err: unknown): err is PortInUseError {
    return err instanceof PortInUseError || matches(err, 'PortInUseError');
  }
}

/**
 * The sync worker thread died (out of memory, a native crash, an uncaught error): a local failure,
 * not a sign that the remote is down. The job is retried; the host starts a fresh thread.
 */
export class WorkerCrashError extends CcmError {
  override readonly name = 'WorkerCrashError';
  readonly code = 'WORKER_CRASHED';
  static is(err: unknown): err is WorkerCrashError {
    return err instanceof WorkerCrashError || matches(err, 'WorkerCrashError');
  }
}

export function isRetryable(err: unknown): boolean {
  return RemoteUnavailableError.is(err) || WorkerCrashError.is(err);
}

/** The exit code a CLI command ends with for this error. */
export function exitCodeOf(err: unknown): number {
  return ConfigError.is(err) || InputError.is(err) ? 2 : 1;
}

/** Whether an error is a write refused for lack of space (SQLite's or the file system's). */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && (code === 'ENOSPC' || code.startsWith('SQLITE_FULL'))) || /database or disk is full|disk is full|ENOSPC|disk full/i.test(messageOf(err));
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The stable code of an error: ours, or INTERNAL for anything else. */
export function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof CcmError && typeof code === 'string' ? code : typeof code === 'string' && /^[A-Z_]+$/.test(code) ? code : 'INTERNAL';
}

export interface PlainError {
  name: string;
  message: string;
  sqlstate?: string;
}

/** Serialises an error for a worker message; `is()` still matches on the other side. */
export function toPlainError(err: unknown): PlainError {
  const sqlstate = (err as { sqlstate?: unknown } | null)?.sqlstate;
  return { name: err instanceof Error ? err.name : 'Error', message: messageOf(err), ...(typeof sqlstate === 'string' ? { sqlstate } : {}) };
}

const REBUILD: Record<string, new (message: string) => CcmError> = {
  RemoteUnavailableError, RemoteRejectedError, CredentialRefusedError, ConfigError, InputError, StoreError, DaemonUnreachableError, WorkerCrashError,
};

/** Rebuilds a typed error from a worker message. */
export function fromPlainError(plain: PlainError): Error {
  const Cls = REBUILD[plain.name];
  if (Cls) {
    const err = new Cls(plain.message);
    if (plain.sqlstate) err.sqlstate = plain.sqlstate;
    return err;
  }
  const err = new Error(plain.message);
  err.name = plain.name;
  return err;
}
