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

abstract class CcmError extends Error {
  abstract readonly code: string;
  readonly retryable: boolean = false;
  /** Process exit code when this error ends a CLI command. */
  readonly exitCode: number = 1;
}

function matches(err: unknown, name: string): boolean {
  return typeof err === 'object' && err !== null && (err as ErrorLike).name === name;
}

/** A config file, env variable or option is wrong. */
export class ConfigError extends CcmError {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  override readonly exitCode = 2;
  static is(err: unknown): err is ConfigError {
    return err instanceof ConfigError || matches(err, 'ConfigError');
  }
}

/** An operation or command input is wrong; nothing was recorded. */
export class InputError extends CcmError {
  override readonly name = 'InputError';
  readonly code = 'INPUT_INVALID';
  override readonly exitCode = 2;
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
  override readonly retryable = true;
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

/** No daemon answers on the local API. */
export class DaemonUnreachableError extends CcmError {
  override readonly name = 'DaemonUnreachableError';
  readonly code = 'DAEMON_UNREACHABLE';
  static is(err: unknown): err is DaemonUnreachableError {
    return err instanceof DaemonUnreachableError || matches(err, 'DaemonUnreachableError');
  }
}

export function isRetryable(err: unknown): boolean {
  return RemoteUnavailableError.is(err);
}

/** The exit code a CLI command ends with for this error. */
export function exitCodeOf(err: unknown): number {
  return ConfigError.is(err) || InputError.is(err) ? 2 : 1;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Serialises an error for a worker message; `is()` still matches on the other side. */
export function toPlainError(err: unknown): { name: string; message: string } {
  return { name: err instanceof Error ? err.name : 'Error', message: messageOf(err) };
}

/** Rebuilds a typed error from a worker message. */
export function fromPlainError(plain: { name: string; message: string }): Error {
  switch (plain.name) {
    case 'RemoteUnavailableError':
      return new RemoteUnavailableError(plain.message);
    case 'RemoteRejectedError':
      return new RemoteRejectedError(plain.message);
    case 'ConfigError':
      return new ConfigError(plain.message);
    case 'InputError':
      return new InputError(plain.message);
    case 'StoreError':
      return new StoreError(plain.message);
    default: {
      const err = new Error(plain.message);
      err.name = plain.name;
      return err;
    }
  }
}
