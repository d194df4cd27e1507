/**
 * The `postgres` transport: node-postgres straight to the database, calling batch_sync exactly as
 * PostgREST would: inside a transaction, as role `authenticated`, with `request.jwt.claims` holding
 * this system's claims. The connection string comes from CCM_SYNC_DATABASE_URL.
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
  private readonly claims: string;

  constructor(opts: PostgresOptions) {
    this.pool = new pg.Pool({
      connectionString: opts.connectionString,
      max: 2,
      connectionTimeoutMillis: opts.timeoutMs,
      query_timeout: opts.timeoutMs,
      statement_timeout: opts.timeoutMs,
      idleTimeoutMillis: 30_000,
      allowExitOnIdle: true,
    });
    // An idle client whose server went away emits 'error'; the next checkout gets a fresh one.
    this.pool.on('error', () => undefined);
    this.claims = JSON.stringify({ role: 'authenticated', system_id: opts.systemId });
  }

  private async asSystem<T>(fn: (c: pg.PoolClient) => Promise<T>, signal?: AbortSignal): Promise<T> {
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
      // One round trip: a multi-statement simple query cannot take parameters, so the claims
      // (our own JSON of the configured system id) go in as an escaped literal.
      await client.query(`begin; set local role authenticated; select set_config('request.jwt.claims', ${client.escapeLiteral(this.claims)}, true)`);
      const out = await fn(client);
      await client.query('commit');
      return out;
    } catch (err) {
      broken = broken ?? (err as Error);
      await client.query('rollback').catch(() => undefined);
      throw classifyFailure(this.kind, pgFacts(err, signal?.aborted));
    } finally {
      signal?.removeEventListener('abort', onAbort);
      client.release(broken && !(broken as PgError).code?.match(/^[0-9A-Z]{5}$/) ? broken : undefined);
    }
  }

  async upload(batch: Batch, signal?: AbortSignal): Promise<RemoteResult[]> {
    return this.asSystem(async (c) => {
      const res = await c.query<{ r: unknown }>('select public.batch_sync($1::jsonb) as r', [JSON.stringify(batch)]);
      return checkResults(this.kind, batch, res.rows[0]?.r);
    }, signal);
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.asSystem((c) => c.query('select public.ccm_ping()'), signal);
  }

  async missing(opIds: readonly string[]): Promise<string[]> {
    return this.asSystem(async (c) => {
      const res = await c.query<{ r: string[] }>('select public.ccm_missing_ops($1::jsonb) as r', [JSON.stringify(opIds)]);
      return res.rows[0]?.r ?? [];
    });
  }

  /** Migration access: runs as the connecting user, not as the system. */
  async exec(sql: string): Promise<void> {
    try {
      await this.pool.query(sql);
    } catch (err) {
      throw classifyFailure(this.kind, pgFacts(err));
    }
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const res = await this.pool.query(sql, params);
    return res.rows as T[];
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
