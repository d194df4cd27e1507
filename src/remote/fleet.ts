/**
 * The fleet as the remote knows it: one ccm_sync_systems row per system, with the heartbeat each
 * system sends with its syncs (src/monitor/heartbeat.ts). Reading every row needs more than a
 * system's own token (row-level security shows a system its own row only): the user of
 * CCM_SYNC_DATABASE_URL on a postgres remote, the secret key (SUPABASE_SECRET_KEY, or the legacy SUPABASE_SERVICE_ROLE_KEY) on
 * Supabase, or the embedded remote's owner.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, RemoteRejectedError } from '../errors.ts';
import { claimsOf, noticeOnce } from './credentials.ts';
import { checkSchemaName, type SqlRunner } from './migrations.ts';
import { classifyFailure, networkCause } from './transport.ts';
import { checkSupabaseUrl } from './urls.ts';
import { openOwnerReader } from './reader.ts';
import { printable } from '../text.ts';
import type { RemoteSettings } from './index.ts';
import type { Settings } from '../config/load.ts';
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

/** Text a system sent about itself, safe to print. */
const text = printable;

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);

/**
 * A heartbeat as each system wrote it: any system's token can write its own, so the shape is
 * checked here and anything unexpected reads as unknown, rather than breaking the operator's view.
 */
function cleanHeartbeat(h: unknown): Heartbeat | null {
  if (typeof h !== 'object' || h === null || Array.isArray(h)) return null;
  const x = h as Record<string, unknown>;
  const at = text(x.at, 40);
  const lastSync = text(x.last_sync_at, 40);
  const tokenExp = text(x.token_expires_at, 40);
  return {
    type: text(x.type) ?? 'unknown',
    version: text(x.version, 32) ?? 'unknown',
    backlog: count(x.backlog),
    failed: count(x.failed),
    connection: text(x.connection, 16) ?? 'unknown',
    alerts: Array.isArray(x.alerts) ? x.alerts.map((a) => text(a)).filter((a): a is string => a !== null).slice(0, 10) : [],
    last_sync_at: lastSync && !Number.isNaN(Date.parse(lastSync)) ? lastSync : null,
    token_expires_at: tokenExp && !Number.isNaN(Date.parse(tokenExp)) ? tokenExp : null,
    at: at && !Number.isNaN(Date.parse(at)) ? at : '',
  };
}

function normalise(rows: Record<string, unknown>[]): FleetRow[] {
  return rows.map((r) => ({
    ...(r as unknown as FleetRow),
    system_id: text(r.system_id, 128) ?? '?',
    heartbeat: cleanHeartbeat(r.heartbeat),
    first_seen_at: iso(r.first_seen_at)!,
    last_seen_at: iso(r.last_seen_at)!,
    last_batch_at: iso(r.last_batch_at),
  }));
}

/**
 * Whether the URL's user may read every system's rows: a superuser, a role that bypasses
 * row-level security, or a member of the tables' owner. A user that is only a member of
 * `authenticated`, as the sync path needs, sees no rows and would show an empty fleet.
 */
export async function readsEverySystem(t: Pick<SqlRunner, 'query'>, schema: string): Promise<{ who: string; ok: boolean } | undefined> {
  const [row] = await t.query<{ who: string; ok: boolean }>(
    `select current_user::text as who, (select r.rolsuper or r.rolbypassrls from pg_roles r where r.rolname = current_user)
       or pg_has_role(current_user, c.relowner, 'USAGE') as ok
     from pg_class c where c.oid = to_regclass($1)`,
    [`${checkSchemaName(schema)}.ccm_sync_systems`],
  );
  return row;
}

export async function checkReadsEverySystem(t: Pick<SqlRunner, 'query'>, schema: string): Promise<void> {
  const row = await readsEverySystem(t, schema);
  if (row && !row.ok) {
    throw new RemoteRejectedError(`the database user ${row.who} may not read other systems' rows (row-level security shows each system only its own), so the fleet would look empty; connect as the tables' owner or a role with BYPASSRLS (CCM_SYNC_DATABASE_URL where you run this, never on the fleet's machines)`);
  }
}

/** The key that may read every system: a secret key, never a publishable or anon one. */
function everySystemKey(s: RemoteSettings): string {
  const key = s.secrets.secretKey;
  if (!s.secrets.supabaseUrl || !key) {
    throw new ConfigError('`fleet` and `report` read every system, which a system\'s own token cannot: export SUPABASE_URL and SUPABASE_SECRET_KEY (an sb_secret_… key, Project Settings → API Keys) where you run it; never on the fleet\'s machines');
  }
  const role = claimsOf(key)?.role;
  if (key.startsWith('sb_publishable_') || (role !== undefined && role !== 'service_role')) {
    throw new ConfigError(`${s.secrets.secretKeyVar} holds a key that may read only its own rows (${role ? `role ${String(role)}` : 'a publishable key'}), so fleet and report would see only that; it must be the project's secret key (sb_secret_…, Project Settings → API Keys)`);
  }
  noticeOnce(s.secrets.notices.filter((n) => n.startsWith(s.secrets.secretKeyVar ?? '-')));
  return key;
}

/** What PostgREST answers a select with. */
export type Answer = { data: unknown; error: { message: string; code?: string; details?: string } | null; status: number };

/**
 * Runs one read on the Supabase project with the key that may read every system (the client is
 * supabase-js, untyped here: `read` builds the query) and returns its rows, or throws what a
 * refusal or a failure means.
 */
export async function readEverySystem<Q>(s: RemoteSettings, read: (from: (table: string) => Q) => PromiseLike<Answer>): Promise<unknown[]> {
  const key = everySystemKey(s);
  const { createClient } = await import('@supabase/supabase-js');
  const client = createClient(checkSupabaseUrl(s.secrets.supabaseUrl!), key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    db: { schema: checkSchemaName(s.remote.schema) },
  }) as unknown as { from(t: string): Q };
  let answer: Answer;
  try {
    answer = await read((t) => client.from(t));
  } catch (err) {
    throw classifyFailure('supabase', { message: (err as Error).message, networkCode: 'ECONNRESET' });
  }
  if (answer.error && (answer.status === 401 || answer.status === 403)) {
    throw new RemoteRejectedError(`the project refused ${s.secrets.secretKeyVar} (HTTP ${answer.status}: ${answer.error.message}); it must be this project's secret key (sb_secret_…, Project Settings → API Keys), not revoked`);
  }
  if (answer.error && answer.status === 0) {
    // supabase-js reports a request that never got an answer as HTTP 0, the cause in details
    const cause = networkCause(answer.error.details, answer.error.message);
    throw classifyFailure('supabase', { message: cause.line, networkCode: cause.code });
  }
  if (answer.error) throw classifyFailure('supabase', { message: answer.error.message, sqlstate: answer.error.code, httpStatus: answer.status });
  return answer.data as unknown[];
}

type SelectOrdered = { select(c: string): { order(c: string): PromiseLike<Answer> } };

async function viaSupabase(s: RemoteSettings): Promise<FleetRow[]> {
  return normalise((await readEverySystem<SelectOrdered>(s, (from) => from('ccm_sync_systems').select(COLUMNS).order('system_id'))) as Record<string, unknown>[]);
}

export async function readFleet(s: Settings): Promise<FleetRow[]> {
  if (s.remote.kind === 'supabase') return viaSupabase(s);
  // An embedded remote nothing has synced to yet holds no systems; opening it would create it.
  if (s.remote.kind === 'embedded' && !existsSync(path.join(s.paths.embedded, 'PG_VERSION'))) return [];
  // as the embedded remote's owner (here, or through the daemon that holds it), or the URL's user
  const reader = await openOwnerReader(s);
  try {
    if (s.remote.kind === 'postgres') await checkReadsEverySystem(reader, s.remote.schema);
    return normalise(await reader.query<Record<string, unknown>>(`select ${COLUMNS} from ${checkSchemaName(s.remote.schema)}.ccm_sync_systems order by system_id`));
  } finally {
    await reader.close();
  }
}
