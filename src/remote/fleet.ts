/**
 * The fleet as the remote knows it: one ccm_sync_systems row per system, with the heartbeat each
 * system sends with its syncs (src/monitor/heartbeat.ts). Reading every row needs more than a
 * system's own token (row-level security shows a system its own row only): the user of
 * CCM_SYNC_DATABASE_URL on a postgres remote, the service-role key (SUPABASE_SERVICE_ROLE_KEY) on
 * Supabase, or the embedded remote's owner.
 */
import { ConfigError } from '../errors.ts';
import { checkSchemaName, type SqlRunner } from './migrations.ts';
import { classifyFailure } from './transport.ts';
import { checkSupabaseUrl } from './urls.ts';
import type { RemoteSettings } from './index.ts';
import type { Heartbeat } from '../types.ts';

export interface FleetRow {
  system_id: string;
  settled_through: string | number;
  pruned_through: string | number;
  heartbeat: Heartbeat | null;
  first_seen_at: string;
  last_seen_at: string;
  last_batch_at: string | null;
}

const COLUMNS = 'system_id, settled_through, pruned_through, heartbeat, first_seen_at, last_seen_at, last_batch_at';

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());

function normalise(rows: Record<string, unknown>[]): FleetRow[] {
  return rows.map((r) => ({
    ...(r as unknown as FleetRow),
    first_seen_at: iso(r.first_seen_at)!,
    last_seen_at: iso(r.last_seen_at)!,
    last_batch_at: iso(r.last_batch_at),
  }));
}

async function viaSupabase(s: RemoteSettings): Promise<FleetRow[]> {
  const key = s.secrets.serviceRoleKey;
  if (!s.secrets.supabaseUrl || !key) {
    throw new ConfigError('the fleet view reads every system, which a system\'s own token cannot: export SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (Settings → API → service_role) where you run it; never on the fleet\'s machines');
  }
  const { createClient } = await import('@supabase/supabase-js');
  const client = createClient(checkSupabaseUrl(s.secrets.supabaseUrl), key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    db: { schema: checkSchemaName(s.remote.schema) },
  }) as unknown as { from(t: string): { select(c: string): { order(c: string): PromiseLike<{ data: unknown; error: { message: string; code?: string } | null; status: number }> } } };
  let answer: { data: unknown; error: { message: string; code?: string } | null; status: number };
  try {
    answer = await client.from('ccm_sync_systems').select(COLUMNS).order('system_id');
  } catch (err) {
    throw classifyFailure('supabase', { message: (err as Error).message, networkCode: 'ECONNRESET' });
  }
  if (answer.error) throw classifyFailure('supabase', { message: answer.error.message, sqlstate: answer.error.code, httpStatus: answer.status });
  return normalise(answer.data as Record<string, unknown>[]);
}

export async function readFleet(s: RemoteSettings): Promise<FleetRow[]> {
  if (s.remote.kind === 'supabase') return viaSupabase(s);
  const { openTransport } = await import('./index.ts');
  const t = await openTransport(s);
  try {
    const sql = `select ${COLUMNS} from ${checkSchemaName(s.remote.schema)}.ccm_sync_systems order by system_id`;
    // embedded and postgres transports are SqlRunners: as the database owner, or the URL's user
    return normalise(await (t as unknown as SqlRunner).query<Record<string, unknown>>(sql));
  } finally {
    await t.close();
  }
}
