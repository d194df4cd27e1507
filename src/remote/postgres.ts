/**
 * The `postgres` transport: node-postgres straight to the database, calling batch_sync as
 * PostgREST would: as role `authenticated`, with `request.jwt.claims` holding this system's claims,
 * one call per transaction. The connection string comes from CCM_SYNC_DATABASE_URL.
 */
import pg from 'pg';
import { classifyFailure, checkResults, type Transport } from './transport.ts';
import type { SqlRunner } from './migrations.ts';
import type { Batch, RemoteResult } from '../types.ts';

export interface PostgresOptions {
  connectionString: string;
  systemId: string;
  timeoutMs: number;
}

interface PgError {
  message: string;
  code?: string;
}

export function pgFacts(err: unknown, timedOut = false) {
  const e = err as PgError;
  const code = e.code ?? '';
  const isSqlState = /^[0-9A-Z]{5}$/.test(code);
  return {
    message: e.message || String(err),
    sqlstate: isSqlState ? code : undefined,
    networkCode: isSqlState ? undefined : code || (/terminated|ended|Connection terminated/i.test(e.message) ? 'ECONNRESET' : undefined),
    timedOut: timedOut || /timeout/i.test(e.message),
  };
}

export class PostgresTransport implements Transport, SqlRunner {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly opts: PostgresOptions;
  private readonly claims: string;
  private admin: pg.Pool | undefined;

  constructor(opts: PostgresOptions) {
    this.opts = opts;
    this.pool = this.newPool(2);
    this.claims = JSON.stringify({ role: 'authenticated', system_id: opts.systemId });
  }

  private newPool(max: number): pg.Pool {
    const pool = new pg.Pool({
      connectionString: this.opts.connectionString,
      max,
      connectionTimeoutMillis: this.opts.timeoutMs,
      query_timeout: this.opts.timeoutMs,
      statement_timeout: this.opts.timeoutMs,
      idleTimeoutMillis: 30_000,
      allowExitOnIdle: true,
    });
    // An idle client whose server went away emits 'error'; the next checkout gets a fresh one.
    pool.on('error', () => undefined);
    return pool;
  }

  /**
   * Runs one call as this system, in one statement, one round trip and its own transaction: a
   * materialized CTE first sets role `authenticated` and this system's `request.jwt.claims` for the
   * transaction, then `call` runs (its inner statements are planned after that, so row-level
   * security applies to them). Values are bound parameters; `$1` is the claims. Nothing outlives
   * the call, so the connection may also be a transaction-mode pooler's. The request is on the
   * wire as soon as `upload()` yields, and the worker packages and settles meanwhile.
   */
  private async asSystem<T>(call: string, params: unknown[], signal?: AbortSignal): Promise<T[]> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw classifyFailure(this.kind, pgFacts(err));
    }
    let broken: Error | undefined;
    const onAbort = () => {
      broken = new Error('aborted');
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const sql = `with system as materialized (
          select set_config('role', 'authenticated', true) as role, set_config('request.jwt.claims', $1, true) as claims)
        select ${call} from system`;
      return (await client.query(sql, [this.claims, ...params])).rows as T[];
    } catch (err) {
      broken = broken ?? (err as Error);
      throw classifyFailure(this.kind, pgFacts(err, signal?.aborted));
    } finally {
      signal?.removeEventListener('abort', onAbort);
      client.release(broken && !(broken as PgError).code?.match(/^[0-9A-Z]{5}$/) ? broken : undefined);
    }
  }

  async upload(batch: Batch, signal?: AbortSignal): Promise<RemoteResult[]> {
    const rows = await this.asSystem<{ r: unknown }>('public.batch_sync($2::jsonb) as r', [JSON.stringify(batch)], signal);
    return checkResults(this.kind, batch, rows[0]?.r);
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.asSystem('public.ccm_ping()', [], signal);
  }

  async missing(opIds: readonly string[]): Promise<string[]> {
    const rows = await this.asSystem<{ r: string[] }>('public.ccm_missing_ops($2::jsonb) as r', [JSON.stringify(opIds)]);
    return rows[0]?.r ?? [];
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
    const res = await this.adminPool().query(sql, params);
    return res.rows as T[];
  }

  private adminPool(): pg.Pool {
    this.admin ??= this.newPool(1);
    return this.admin;
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.end(), this.admin?.end()]);
  }
}
