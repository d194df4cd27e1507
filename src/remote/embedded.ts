/**
 * The `embedded` transport: PGlite (Postgres compiled to WASM) in a local directory, with the same
 * bootstrap and migration as a real project. It is the default remote, so a first run works with
 * no account, and it runs the very same batch_sync.
 *
 * PGlite is single-process: two processes opening one data directory would corrupt it. A lock file
 * beside the directory names the owning pid; a second opener gets a clear error instead.
 *
 * Memory and file modes: see embedded-fs.ts. A new data directory is made by a child process
 * (embedded-init.ts) in a temporary folder and renamed into place, so a killed initdb leaves
 * nothing half-made behind.
 */
import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makePrivateDir } from '../config/home.ts';
import { ConfigError, RemoteRejectedError } from '../errors.ts';
import { flushWal, lowMemoryWasm, startParams, tighten } from './embedded-fs.ts';
import { answerOf, readOnlyAnswer, type QueryAnswer } from './query-answer.ts';
import { checkSchemaName, migrateRemote, type SqlRunner } from './migrations.ts';
import { checkInfo, classifyFailure, type Transport, type Verification, type VerifyItem } from './transport.ts';
import { checkResults } from './answers.ts';
import type { Batch, RemoteResult } from '../types.ts';
import type { PGlite } from '@electric-sql/pglite';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live process, other than this one, that holds the embedded remote at `dir` open (its daemon, usually). */
export function embeddedHolder(dir: string): number | undefined {
  let owner: number;
  try {
    owner = Number(readFileSync(`${dir}.lock`, 'utf8'));
  } catch {
    return undefined;
  }
  return owner && owner !== process.pid && alive(owner) ? owner : undefined;
}

function takeLock(file: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
        throw new ConfigError(`the embedded remote ${path.dirname(file)} cannot be opened from here: its folder is read-only to this user (${code}), and PGlite writes as it reads. Run this as the home's owner, or with its daemon running (it answers \`remote query\` for it)`);
      }
      if (code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(file, 'utf8'));
      if (owner === process.pid) return;
      if (owner && alive(owner)) {
        throw new RemoteRejectedError(
          `the embedded remote ${path.dirname(file)} is open in process ${owner} (a running \`ccm-sync start\`?), and one ` +
            'process at a time can open it. `ccm-sync sync now` asks the daemon to sync; to query or migrate, stop it first ' +
            '(`ccm-sync stop`), or use a postgres remote',
        );
      }
      rmSync(file, { force: true }); // stale lock of a dead process
    }
  }
}

export class EmbeddedTransport implements Transport, SqlRunner {
  readonly kind = 'embedded' as const;
  private readonly db: PGlite;
  private readonly claims: string;
  private readonly lockFile: string;
  private readonly schema: string;
  private readonly dir: string;
  /** WAL files modified at or after this time (ms) may hold commits not yet on disk. */
  private flushedAt = 0;

  private constructor(db: PGlite, systemId: string, lockFile: string, schema: string) {
    this.db = db;
    this.claims = JSON.stringify({ role: 'authenticated', system_id: systemId });
    this.lockFile = lockFile;
    this.dir = lockFile.slice(0, -'.lock'.length);
    this.schema = schema;
  }

  /** Opens (creating if needed) the data directory and brings its schema up to date. */
  static async open(dir: string, systemId: string, schema = 'public'): Promise<EmbeddedTransport> {
    makePrivateDir(path.dirname(dir));
    const lockFile = `${dir}.lock`;
    takeLock(lockFile);
    try {
      if (!existsSync(path.join(dir, 'PG_VERSION'))) await initDataDir(dir);
      lowMemoryWasm();
      const { PGlite } = await import('@electric-sql/pglite');
      const db = await PGlite.create(dir, { startParams: startParams(PGlite.defaultStartParams) });
      tighten(dir);
      const t = new EmbeddedTransport(db, systemId, lockFile, checkSchemaName(schema));
      await migrateRemote(t, { schema });
      return t;
    } catch (err) {
      rmSync(lockFile, { force: true });
      throw err;
    }
  }

  private async asSystem<T>(fn: (tx: Pick<PGlite, 'query'>) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction(async (tx) => {
        await tx.query('set local role authenticated');
        await tx.query("select set_config('request.jwt.claims', $1, true)", [this.claims]);
        return fn(tx);
      });
    } catch (err) {
      if (err instanceof RemoteRejectedError) throw err;
      const e = err as { message?: string; code?: string };
      throw classifyFailure(this.kind, { message: e.message ?? String(err), sqlstate: e.code });
    }
  }

  async upload(batch: Batch): Promise<RemoteResult[]> {
    const since = this.flushedAt;
    const results = await this.asSystem(async (tx) => {
      const res = await tx.query<{ r: unknown }>(`select ${this.schema}.batch_sync($1::jsonb) as r`, [JSON.stringify(batch)]);
      return checkResults(this.kind, batch, res.rows[0]?.r);
    });
    this.flushedAt = Date.now() - 1000; // mtime granularity and clock steps: overlap, never a gap
    flushWal(this.dir, since);
    return results;
  }

  async ping(): Promise<void> {
    await this.db.query('select 1');
  }

  async now(): Promise<string> {
    const res = await this.db.query<{ r: Date | string }>('select now() as r');
    return new Date(res.rows[0]!.r).toISOString();
  }

  async othersVisible(): Promise<number> {
    const res = await this.asSystem((tx) => tx.query<{ r: string | number }>(`select ${this.schema}.ccm_visible_systems() as r`));
    return Number(res.rows[0]!.r);
  }

  async info(): Promise<{ schema: number }> {
    const res = await this.asSystem((tx) => tx.query<{ r: unknown }>(`select ${this.schema}.ccm_sync_info() as r`));
    return checkInfo(this.kind, res.rows[0]?.r);
  }

  async verify(items: readonly VerifyItem[]): Promise<Verification> {
    return this.asSystem(async (tx) => {
      const res = await tx.query<{ r: Verification }>(`select ${this.schema}.ccm_verify_ops($1::jsonb) as r`, [JSON.stringify(items)]);
      return res.rows[0]?.r ?? { missing: [], pruned: [] };
    });
  }

  async exec(sql: string): Promise<void> {
    await this.db.exec(sql);
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.db.query<T>(sql, params)).rows;
  }

  /** One statement in a read-only transaction, as the database owner (`ccm-sync remote query`). */
  async readOnly(sql: string, timeoutMs: number, params: readonly unknown[] = []): Promise<QueryAnswer> {
    return readOnlyAnswer(this.kind, async () =>
      this.db.transaction(async (tx) => {
        await tx.query('set transaction read only');
        await tx.query(`set local statement_timeout = ${Math.max(1, Math.trunc(timeoutMs))}`);
        await tx.query('select 1'); // takes the snapshot: from here on the mode cannot be changed
        const res = await tx.query<unknown[]>(sql, [...params], { rowMode: 'array' });
        await tx.rollback();
        return answerOf(res.fields, res.rows);
      }));
  }

  async close(): Promise<void> {
    await this.db.close();
    tighten(this.dir);
    rmSync(this.lockFile, { force: true });
  }
}

const SELF = import.meta.url;

/** The line of a failed initdb child that says why: a full disk first, then its error, never Node's version line. */
function initFailure(e: { stderr?: string; message: string }): string {
  const lines = (e.stderr || e.message).split('\n').map((l) => l.trim()).filter((l) => l && !/^Node\.js v\d/.test(l) && !/^at /.test(l));
  if (lines.some((l) => /ENOSPC|no space left/i.test(l))) return 'the disk is full (ENOSPC); free space and run it again';
  return lines.find((l) => /Error|error:/.test(l)) ?? lines.at(-1) ?? e.message;
}

/** Runs initdb for a new data directory in a child process, then moves the result into place. */
async function initDataDir(dir: string): Promise<void> {
  const scratch = `${dir}.init-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  const script = new URL(`./embedded-init${SELF.endsWith('.ts') ? '.ts' : '.js'}`, SELF);
  try {
    await promisify(execFile)(process.execPath, [fileURLToPath(script), scratch], { timeout: 120_000 });
  } catch (err) {
    rmSync(scratch, { recursive: true, force: true });
    throw new RemoteRejectedError(`could not create the embedded remote in ${dir}: ${initFailure(err as { stderr?: string; message: string })}`);
  }
  if (existsSync(dir)) {
    if (readdirSync(dir).length > 0) {
      rmSync(scratch, { recursive: true, force: true });
      throw new RemoteRejectedError(`${dir} is not empty and holds no Postgres data directory; point remote.embedded_path at a new or empty folder`);
    }
    rmSync(dir, { recursive: true });
  }
  renameSync(scratch, dir);
}
