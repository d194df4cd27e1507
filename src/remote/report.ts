/**
 * The task summaries of every system since a time, read for `ccm-sync report` with what may read
 * every system's rows (as `fleet` reads: remote/fleet.ts): the database owner or a BYPASSRLS user
 * on postgres, the secret key on Supabase, or the embedded remote's owner. Only the columns a
 * report sums are read, a page at a time.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { checkReadsEverySystem, readEverySystem, type Answer } from './fleet.ts';
import { checkSchemaName } from './migrations.ts';
import { openOwnerReader } from './reader.ts';
import { RemoteRejectedError, messageOf } from '../errors.ts';
import type { Settings } from '../config/load.ts';
import type { RemoteSettings } from './index.ts';

/** One task summary as a report reads it (numerics as the remote gives them: numbers or decimal strings). */
export interface SummaryRow {
  system_id: string;
  first_event_at: string | null;
  repo: string | null;
  git_branch: string | null;
  outcome: string | null;
  status: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cache_creation_tokens: number | null;
  cache_read_tokens: number | null;
  api_requests: number | null;
  cost_usd: string | number | null;
  permission_wait_seconds: string | number | null;
  permission_requests: number | null;
  /** User prompts in it: 0 for what a session did before its first prompt (its "#0", SessionStart). */
  prompt_count: number | null;
  models: Record<string, { requests?: number; input_tokens?: number; output_tokens?: number; cache_creation_tokens?: number; cache_read_tokens?: number; cost_usd?: number | null }> | null;
}

export const REPORT_COLUMNS = ['system_id', 'first_event_at', 'repo', 'git_branch', 'outcome', 'status', 'input_tokens', 'output_tokens',
  'cache_creation_tokens', 'cache_read_tokens', 'api_requests', 'cost_usd', 'permission_wait_seconds', 'permission_requests', 'prompt_count', 'models'] as const;

const PAGE = 1000;

type Query = { gte(c: string, v: string): Query; order(c: string): Query; range(a: number, b: number): PromiseLike<Answer> };

async function viaSupabase(s: RemoteSettings, sinceIso: string): Promise<SummaryRow[]> {
  const rows: SummaryRow[] = [];
  for (let at = 0; ; at += PAGE) {
    const got = (await readEverySystem<{ select(c: string): Query }>(s, (from) =>
      from('task_summaries').select(REPORT_COLUMNS.join(',')).gte('first_event_at', sinceIso).order('system_id').order('id').range(at, at + PAGE - 1))) as SummaryRow[];
    rows.push(...got);
    if (got.length < PAGE) return rows;
  }
}

async function viaOwner(s: Settings, sinceIso: string): Promise<SummaryRow[]> {
  if (s.remote.kind === 'embedded' && !existsSync(path.join(s.paths.embedded, 'PG_VERSION'))) return [];
  const reader = await openOwnerReader(s);
  try {
    if (s.remote.kind === 'postgres') await checkReadsEverySystem(reader, s.remote.schema);
    const cols = REPORT_COLUMNS.map((c) => (c === 'first_event_at' ? `to_char(first_event_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as first_event_at` : c === 'cost_usd' || c === 'permission_wait_seconds' ? `${c}::text as ${c}` : c));
    return await reader.query<SummaryRow>(`select ${cols.join(', ')} from ${checkSchemaName(s.remote.schema)}.task_summaries where first_event_at >= $1 order by system_id, id`, [sinceIso]);
  } finally {
    await reader.close();
  }
}

export async function readTaskSummaries(s: Settings, sinceIso: string): Promise<SummaryRow[]> {
  try {
    return s.remote.kind === 'supabase' ? await viaSupabase(s, sinceIso) : await viaOwner(s, sinceIso);
  } catch (err) {
    // A remote from before schema 4 has no usage columns in task_summaries.
    if ((err as { sqlstate?: string }).sqlstate === '42703' || /column .* does not exist/.test(messageOf(err))) {
      throw new RemoteRejectedError(`the remote's task_summaries has no usage columns yet (${messageOf(err)}): its schema predates the coding-agent report. Apply the migrations: \`ccm-sync remote migrate\` (postgres, embedded) or \`supabase db push\``);
    }
    throw err;
  }
}
