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

/**
 * A string as an SQL literal that means the same whatever standard_conforming_strings says: the
 * E'' form with quotes and backslashes doubled (what pg's escapeLiteral does, with native replaces,
 * which matters for a 500-operation batch). JSON never holds a raw NUL, which a literal cannot.
 */
export function literal(s: string): string {
  return `E'${s.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
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
    this.claims = literal(JSON.stringify({ role: 'authenticated', system_id: opts.systemId }));
  }

  /**
   * Runs `sql` as this system, in one transaction and one round trip: begin, role, claims, the
   * statement and commit go out as a single simple query. A simple query cannot take parameters,
   * so every value in `sql` must already be a literal made by `literal()`. One round trip also
   * means the request is on the wire as soon as `upload()` yields, so the worker can package and
   * settle other batches while the server works. Resolves with the rows of the statement.
   */
  private async asSystem<T>(sql: string, signal?: AbortSignal): Promise<T[]> {
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
      const results = await client.query(
        `begin; set local role authenticated; select set_config('request.jwt.claims', ${this.claims}, true); ${sql}; commit`,
      ) as unknown as pg.QueryResult[];
      return results[3]!.rows as T[];
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
    const rows = await this.asSystem<{ r: unknown }>(`select public.batch_sync(${literal(JSON.stringify(batch))}::jsonb) as r`, signal);
    return checkResults(this.kind, batch, rows[0]?.r);
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.asSystem('select public.ccm_ping()', signal);
  }

  async missing(opIds: readonly string[]): Promise<string[]> {
    const rows = await this.asSystem<{ r: string[] }>(`select public.ccm_missing_ops(${literal(JSON.stringify(opIds))}::jsonb) as r`);
    return rows[0]?.r ?? [];
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
