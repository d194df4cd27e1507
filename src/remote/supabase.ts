/**
 * The `supabase` transport: unmodified supabase-js calling `rpc('batch_sync')` with the project's
 * anon key and this system's JWT (whose system_id claim batch_sync and RLS check).
 *
 * supabase-js never retries an RPC POST, so retries are ours (the sync job backs off); this module
 * only adds a timeout to each call and sorts failures into retryable and permanent.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { ConfigError } from '../errors.ts';
import { checkResults, classifyFailure, type Transport } from './transport.ts';
import type { Batch, RemoteResult } from '../types.ts';

export interface SupabaseOptions {
  url: string;
  anonKey: string;
  accessToken: string;
  timeoutMs: number;
}

interface RpcAnswer {
  data: unknown;
  error: { message: string; code?: string; details?: string } | null;
  status: number;
}

export class SupabaseTransport implements Transport {
  readonly kind = 'supabase' as const;
  private readonly client: SupabaseClient;
  private readonly opts: SupabaseOptions;

  constructor(opts: SupabaseOptions) {
    this.opts = opts;
    try {
      new URL(opts.url);
    } catch {
      throw new ConfigError('SUPABASE_URL is not a valid URL (expected https://<project>.supabase.co)');
    }
    this.client = createClient(opts.url, opts.anonKey, {
      accessToken: async () => opts.accessToken,
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    });
  }

  private async call(fn: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let answer: RpcAnswer;
    try {
      answer = (await this.client.rpc(fn, args).abortSignal(combined)) as RpcAnswer;
    } catch (err) {
      throw classifyFailure(this.kind, { message: (err as Error).message, networkCode: 'ECONNRESET', timedOut: timeout.aborted });
    }
    if (answer.error) {
      const e = answer.error;
      const code = e.code || undefined;
      throw classifyFailure(this.kind, {
        message: [e.message, e.details].filter(Boolean).join(': '),
        sqlstate: code,
        httpStatus: answer.status,
        timedOut: timeout.aborted,
        networkCode: answer.status === 0 ? 'ECONNRESET' : undefined,
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

  async missing(opIds: readonly string[]): Promise<string[]> {
    return (await this.call('ccm_missing_ops', { op_ids: opIds })) as string[];
  }

  async close(): Promise<void> {
    // supabase-js holds no connections of its own (fetch keeps none open for us).
  }
}
