/**
 * The `postgres` transport: node-postgres straight to the database, calling batch_sync as
 * PostgREST would: as role `authenticated`, with `request.jwt.claims` holding this system's claims,
 * one call per transaction. The connection string comes from CCM_SYNC_DATABASE_URL.
 *
 * Connections that fail are thrown away, never back into the pool and never into the thread: a
 * checked-out client has an 'error' listener for as long as it is out (a terminated backend or a
 * reset socket would otherwise be an uncaught exception that kills the worker thread), and a
 * client whose call failed for any reason but a statement-level SQL error is destroyed on release.
 */
import pg from 'pg';
import { checkInfo, classifyFailure, isSqlState, type Transport, type Verification, type VerifyItem } from './transport.ts';
import { checkResults } from './answers.ts';
import { answerOf, readOnlyAnswer, type QueryAnswer } from './query-answer.ts';
import { checkSchemaName, type SqlRunner } from './migrations.ts';
import { pgConnectionString } from './urls.ts';
import type { Batch, RemoteResult } from '../types.ts';

export interface PostgresOptions {
  connectionString: string;
  systemId: string;
  timeoutMs: number;
  /** Schema holding batch_sync and the synced tables (remote.schema). */
  schema?: string;
  /** Connections this transport may open (default 2). */
  maxConnections?: number;
}

interface PgError {
  message: string;
  code?: string;
}

export function pgFacts(err: unknown, timedOut = false) {
  const e = err as PgError;
  const code = e.code ?? '';
  const sqlState = isSqlState(code);
  return {
    message: e.message || String(err),
    sqlstate: sqlState ? code : undefined,
    networkCode: sqlState ? undefined : code || (/terminated|ended|Connection terminated/i.test(e.message) ? 'ECONNRESET' : undefined),
    // node-postgres's own timeouts (connect, query read); not a server message naming a setting
    timedOut: timedOut || /timeout expired|Query read timeout|due to connection timeout|timed out/i.test(e.message),
  };
}

/**
 * Whether a client that failed with `err` may go back to the pool: only after an error the server
 * raised for one statement, on a connection that is still fine. Connection exceptions (08),
 * operator intervention (57P01 admin shutdown and friends, but not a cancelled statement, 57014),
 * internal errors (XX) and anything without a SQLSTATE (a reset, a timeout) end the connection.
 */
export function reusableAfter(err: unknown): boolean {
  const code = (err as PgError | undefined)?.code ?? '';
  if (!isSqlState(code)) return false;
  if (code === '57014') return true;
  return !['08', '57', 'XX'].includes(code.slice(0, 2));
}

export class PostgresTransport implements Transport, SqlRunner {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly opts: PostgresOptions;
  private readonly claims: string;
  private readonly schema: string;
  private admin: pg.Pool | undefined;

  constructor(opts: PostgresOptions) {
    this.opts = opts;
    this.schema = checkSchemaName(opts.schema ?? 'public');
    this.pool = this.newPool(opts.maxConnections ?? 2, true);
    this.claims = JSON.stringify({ role: 'authenticated', system_id: opts.systemId });
  }

  private newPool(max: number, pipeline: boolean): pg.Pool {
    const pool = new pg.Pool({
      connectionString: pgConnectionString(this.opts.connectionString),
      max,
      // The begin / role / call / commit of one call go out together (see asSystem).
      pipeline,
      connectionTimeoutMillis: this.opts.timeoutMs,
      // The server's statement timeout (set inside each call's transaction, see asSystem) fires
      // first, so a slow batch is answered 57014 (and split) rather than cut off on our side with
      // no answer. No startup parameter carries it: a transaction pooler refuses those.
      query_timeout: this.opts.timeoutMs + 2000,
      idleTimeoutMillis: 30_000,
      allowExitOnIdle: true,
    });
    // An idle client whose server went away emits 'error'; the next checkout gets a fresh one.
    pool.on('error', () => undefined);
    return pool;
  }

  /**
   * Runs one call as this system, in its own transaction and one round trip: begin, set role
   * `authenticated`, this system's `request.jwt.claims` and the statement timeout for the
   * transaction, run `call`, commit, all pipelined. The call's permission is checked after the
   * role is set, so the connecting user needs no privilege of its own (it only has to be a member
   * of authenticated, as PostgREST's authenticator is). Values are bound parameters of unnamed
   * statements and every setting is local to the transaction: nothing outlives the call, so the
   * connection may be a transaction-mode pooler's (PgBouncer, Supavisor), which hands each
   * transaction to any server connection and refuses startup parameters and named prepared
   * statements. The request is on the wire as soon as `upload()` yields, and the worker packages
   * and settles meanwhile.
   */
  private async asSystem<T>(call: string, params: unknown[], signal?: AbortSignal): Promise<T[]> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw classifyFailure(this.kind, pgFacts(err));
    }
    let broken: Error | undefined;
    const onError = (err: Error) => {
      broken ??= err;
    };
    client.on('error', onError);
    const onAbort = () => {
      broken ??= new Error('aborted');
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const steps = [
      client.query('begin'),
      client.query("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true), set_config('statement_timeout', $2, true)", [this.claims, `${this.opts.timeoutMs}ms`]),
      client.query(`select ${call}`, params),
      client.query('commit'),
    ];
    const settled = await Promise.allSettled(steps);
    signal?.removeEventListener('abort', onAbort);
    // The first failure is the cause; the ones after it only say the transaction was aborted.
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    try {
      if (failed) {
        broken ??= failed.reason as Error;
        throw classifyFailure(this.kind, pgFacts(failed.reason, signal?.aborted));
      }
      return (settled[2] as PromiseFulfilledResult<pg.QueryResult>).value.rows as T[];
    } finally {
      client.release(broken && !reusableAfter(broken) ? broken : undefined);
      client.off('error', onError);
    }
  }

  async upload(batch: Batch, signal?: AbortSignal): Promise<RemoteResult[]> {
    const rows = await this.asSystem<{ r: unknown }>(`${this.schema}.batch_sync($1::jsonb) as r`, [JSON.stringify(batch)], signal);
    return checkResults(this.kind, batch, rows[0]?.r);
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.asSystem(`${this.schema}.ccm_ping()`, [], signal);
  }

  async now(signal?: AbortSignal): Promise<string> {
    const [row] = await this.asSystem<{ r: Date | string }>(`${this.schema}.ccm_ping() as r`, [], signal);
    return new Date(row!.r).toISOString();
  }

  async othersVisible(signal?: AbortSignal): Promise<number> {
    const [row] = await this.asSystem<{ r: string | number }>(`${this.schema}.ccm_visible_systems() as r`, [], signal);
    return Number(row!.r);
  }

  async info(signal?: AbortSignal): Promise<{ schema: number }> {
    try {
      const rows = await this.asSystem<{ r: unknown }>(`${this.schema}.ccm_sync_info() as r`, [], signal);
      return checkInfo(this.kind, rows[0]?.r);
    } catch (err) {
      if ((err as { sqlstate?: string }).sqlstate === '42883') return checkInfo(this.kind, null);
      throw err;
    }
  }

  async ownHeartbeat(signal?: AbortSignal): Promise<unknown> {
    const [row] = await this.asSystem<{ r: unknown }>(`(select s.heartbeat from ${this.schema}.ccm_sync_systems s where s.system_id = $1) as r`, [this.opts.systemId], signal);
    return row?.r ?? null;
  }

  async verify(items: readonly VerifyItem[]): Promise<Verification> {
    const rows = await this.asSystem<{ r: Verification }>(`${this.schema}.ccm_verify_ops($1::jsonb) as r`, [JSON.stringify(items)]);
    return rows[0]?.r ?? { missing: [], pruned: [] };
  }

  /** Migration access: runs as the connecting user, not as the system. */
  async exec(sql: string): Promise<void> {
    try {
      await this.adminPool().query(sql);
    } catch (err) {
      throw classifyFailure(this.kind, pgFacts(err));
    }
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    try {
      return (await this.adminPool().query(sql, params)).rows as T[];
    } catch (err) {
      throw classifyFailure(this.kind, pgFacts(err));
    }
  }

  /** One statement in a read-only transaction, as the connecting user (`ccm-sync remote query`). */
  async readOnly(sql: string, timeoutMs: number, params: readonly unknown[] = []): Promise<QueryAnswer> {
    return readOnlyAnswer(this.kind, async () => {
      const client = await this.adminPool().connect();
      try {
        await client.query('begin read only');
        await client.query(`set local statement_timeout = ${Math.max(1, Math.trunc(timeoutMs))}`);
        await client.query('select 1'); // takes the snapshot: from here on the mode cannot be changed
        const res = await client.query({ text: sql, values: [...params], rowMode: 'array', queryMode: 'extended' } as pg.QueryArrayConfig);
        return answerOf(res.fields, res.rows);
      } finally {
        await client.query('rollback').catch(() => undefined);
        client.release();
      }
    }, (err) => pgFacts(err));
  }

  private adminPool(): pg.Pool {
    this.admin ??= this.newPool(1, false);
    return this.admin;
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.end(), this.admin?.end()]);
  }
}
