/**
 * Opens the local SQLite database: WAL (readers never block the writer, and several processes can
 * record at once), a busy timeout long enough that concurrent enqueuers wait instead of failing
 * with SQLITE_BUSY, and the numbered migrations from ./migrations.ts.
 */
import Database from 'better-sqlite3';
import { StoreError, isDiskFull } from '../errors.ts';
import { MIGRATIONS } from './migrations.ts';
import { preparePrivateFile } from './private-file.ts';

export type Db = Database.Database;

export interface OpenOptions {
  readonly?: boolean;
  /** Milliseconds a writer waits for the lock before SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

/** Turns a SQLite failure to write into a StoreError that names the cause and the fix. */
export function storeError(file: string, err: unknown): StoreError {
  const code = (err as { code?: string }).code ?? '';
  const msg = (err as Error).message;
  if (isDiskFull(err)) {
    return new StoreError(`disk full: nothing was recorded (${file} is on a full disk). Free space and retry; what was recorded before is intact.`);
  }
  if (code.startsWith('SQLITE_READONLY') || /readonly|read-only|EACCES|EROFS/i.test(msg)) {
    return new StoreError(`${file} is read-only; nothing was recorded. Fix its permissions (and its directory's) and retry.`);
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new StoreError(`cannot open ${file}; check that its directory exists and is writable.`);
  }
  if (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB')) {
    return new StoreError(`${file} is not a valid ccm-sync database (${msg}).`);
  }
  return new StoreError(`local database ${file}: ${msg}`);
}

export function openDb(file: string, opts: OpenOptions = {}): Db {
  let db: Db;
  try {
    if (!opts.readonly) preparePrivateFile(file);
    db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
    const busyTimeoutMs = opts.busyTimeoutMs ?? 10_000;
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      // FULL: a commit is on disk before it returns (WAL fsynced at every commit), so whatever
      // ccm-sync acknowledged survives a power cut. NORMAL may lose the last commits (README:
      // Durability; the cost is in BENCHMARKS.md).
      db.pragma('synchronous = FULL');
      migrate(db, busyTimeoutMs);
    }
  } catch (err) {
    throw storeError(file, err);
  }
  return db;
}

/** A database as `doctor` sees it: SQLite's quick_check, and its schema version against this ccm-sync's. */
export function inspectDb(file: string): { quick_check: string; version: number; known: number } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const rows = db.pragma('quick_check(5)') as { quick_check: string }[];
    return { quick_check: rows.map((r) => r.quick_check).join('; '), version: db.pragma('user_version', { simple: true }) as number, known: MIGRATIONS.length };
  } finally {
    db.close();
  }
}

/** The schema version, refusing one newer than this ccm-sync knows. */
function schemaVersion(db: Db): number {
  const v = db.pragma('user_version', { simple: true }) as number;
  if (v > MIGRATIONS.length) {
    // Its counters and tables follow rules this version does not know: writing would break them.
    throw new Error(`its schema is version ${v}, newer than this ccm-sync knows (${MIGRATIONS.length}); upgrade ccm-sync on this machine, then retry`);
  }
  return v;
}

/** How long any opener waits for another process's migration (a large hook_events copy). */
const MIGRATION_WAIT_MS = 600_000;

function migrate(db: Db, busyTimeoutMs: number): void {
  if (schemaVersion(db) === MIGRATIONS.length) return;
  // Every process that opens an old database tries to migrate it. Those that lose the race wait
  // for the winner instead of failing after the usual busy timeout and losing their operation.
  db.pragma(`busy_timeout = ${Math.max(busyTimeoutMs, MIGRATION_WAIT_MS)}`);
  try {
    db.transaction(() => {
      // Re-read inside the write lock: another process may have migrated meanwhile.
      const now = schemaVersion(db);
      for (let v = now; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!);
      if (now < MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
    }).immediate();
  } finally {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  }
}

/**
 * Named statements prepared on first use. The enqueue path runs once per hook event and uses two
 * or three of a module's statements; preparing all of them up front would cost it milliseconds.
 */
export function statements<K extends string>(db: Db, sql: Record<K, string>): Record<K, Database.Statement> {
  const out = {} as Record<K, Database.Statement>;
  for (const key of Object.keys(sql) as K[]) {
    Object.defineProperty(out, key, {
      configurable: true,
      enumerable: true,
      get() {
        const stmt = db.prepare(sql[key]);
        Object.defineProperty(out, key, { value: stmt, enumerable: true });
        return stmt;
      },
    });
  }
  return out;
}
