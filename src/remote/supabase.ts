/**
 * The `supabase` transport: unmodified supabase-js calling `rpc('batch_sync')` with the project's
 * publishable key as `apikey` and this system's JWT as `Authorization: Bearer` (whose system_id
 * claim batch_sync and RLS check). The token is asked of its source before each call (./credentials.ts),
 * so a token file that changes, or a command's fresh token, is used from the next call on.
 *
 * supabase-js never retries an RPC POST, so retries are ours (the sync job backs off); this module
 * only adds a timeout to each call and sorts failures into retryable and permanent. A network
 * failure reaches us as `TypeError: fetch failed` with the cause, and a stack, in `details`: we keep
 * the cause's code (ECONNREFUSED, ENOTFOUND, ...) and one line, never the stack.
 */
import { createClient } from '@supabase/supabase-js';
import { checkSchemaName } from './migrations.ts';
import type { AccessToken } from './credentials.ts';
import { checkSupabaseUrl } from './urls.ts';
import { checkInfo, classifyFailure, networkCause, type Transport, type Verification, type VerifyItem } from './transport.ts';
import { checkResults } from './answers.ts';
import type { Batch, RemoteResult } from '../types.ts';

export interface SupabaseOptions {
  url: string;
  /** The publishable key (or legacy anon key). */
  apiKey: string;
  token: AccessToken;
  /** This system's id, as its token's claim says (its own row on the remote is read by it). */
  systemId?: string;
  timeoutMs: number;
  /** Schema holding batch_sync (remote.schema); it must be exposed to the Data API. */
  schema?: string;
}

interface RpcAnswer {
  data: unknown;
  error: { message: string; code?: string; details?: string } | null;
  status: number;
}

/**
 * The supabase-js calls we make: functions, and one read of this system's own row. The schema is a
 * setting, not a generated type, so the client is seen through this shape rather than
 * SupabaseClient's schema-typed generics.
 */
interface Filtered {
  eq(column: string, value: string): Filtered;
  abortSignal(signal: AbortSignal): PromiseLike<unknown>;
}

interface RpcClient {
  rpc(fn: string, args: Record<string, unknown>): { abortSignal(signal: AbortSignal): PromiseLike<unknown> };
  from(table: string): { select(columns: string): Filtered };
}

export class SupabaseTransport implements Transport {
  readonly kind = 'supabase' as const;
  private readonly client: RpcClient;
  private readonly opts: SupabaseOptions;

  constructor(opts: SupabaseOptions) {
    this.opts = opts;
    checkSupabaseUrl(opts.url);
    this.client = createClient(opts.url, opts.apiKey, {
      accessToken: () => opts.token.current(),
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      db: { schema: checkSchemaName(opts.schema ?? 'public') },
    }) as unknown as RpcClient;
  }

  private call(fn: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<unknown> {
    return this.answer((s) => this.client.rpc(fn, args).abortSignal(s), signal);
  }

  /** One request of supabase-js (`make`), with our timeout; its data, or the failure sorted. */
  private async answer(make: (signal: AbortSignal) => PromiseLike<unknown>, signal?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let answer: RpcAnswer;
    try {
      answer = (await make(combined)) as RpcAnswer;
    } catch (err) {
      const cause = networkCause(undefined, (err as Error).message);
      throw classifyFailure(this.kind, { message: cause.line, networkCode: cause.code, timedOut: timeout.aborted });
    }
    if (answer.error) {
      const e = answer.error;
      if (answer.status === 401 || answer.status === 403) this.opts.token.refused();
      if (answer.status === 0) {
        const cause = networkCause(e.details, e.message);
        throw classifyFailure(this.kind, { message: cause.line, networkCode: cause.code, timedOut: timeout.aborted });
      }
      throw classifyFailure(this.kind, {
        message: [e.message, e.details].filter(Boolean).join(': '),
        sqlstate: e.code || undefined,
        httpStatus: answer.status,
        timedOut: timeout.aborted,
      });
    }
    return answer.data;
  }

  async upload(batch: Batch, signal?: AbortSignal): Promise<RemoteResult[]> {
    return checkResults(this.kind, batch, await this.call('batch_sync', { batch }, signal));
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.call('ccm_ping', {}, signal);
  }

  async now(signal?: AbortSignal): Promise<string> {
    return new Date(String(await this.call('ccm_ping', {}, signal))).toISOString();
  }

  async othersVisible(signal?: AbortSignal): Promise<number> {
    return Number(await this.call('ccm_visible_systems', {}, signal));
  }

  async info(signal?: AbortSignal): Promise<{ schema: number }> {
    try {
      return checkInfo(this.kind, await this.call('ccm_sync_info', {}, signal));
    } catch (err) {
      if ((err as { sqlstate?: string }).sqlstate === 'PGRST202') return checkInfo(this.kind, null);
      throw err;
    }
  }

  async ownHeartbeat(signal?: AbortSignal): Promise<unknown> {
    // Row-level security shows this system's token its own row only; asked by name all the same.
    const read = (s: AbortSignal) => {
      const q = this.client.from('ccm_sync_systems').select('heartbeat');
      return (this.opts.systemId ? q.eq('system_id', this.opts.systemId) : q).abortSignal(s);
    };
    const rows = (await this.answer(read, signal)) as { heartbeat: unknown }[] | null;
    return rows?.[0]?.heartbeat ?? null;
  }

  async verify(items: readonly VerifyItem[]): Promise<Verification> {
    return (await this.call('ccm_verify_ops', { ops: items })) as Verification;
  }

  async close(): Promise<void> {
    // supabase-js holds no connections of its own (fetch keeps none open for us).
  }
}
