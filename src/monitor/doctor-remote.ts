/**
 * `ccm-sync doctor`'s remote checks: reachable, its schema new enough, the token valid and when it
 * expires, the clock skew between this machine and the remote (measured), and row-level security
 * as this machine's credentials see it: another system's rows must stay invisible.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CredentialRefusedError, RemoteRejectedError, RemoteUnavailableError, messageOf } from '../errors.ts';
import { tokenFacts } from '../remote/credentials.ts';
import { embeddedHolder } from '../remote/embedded.ts';
import { readsEverySystem } from '../remote/fleet.ts';
import { otherHolder, type Installation } from '../remote/identity.ts';
import { openOwnerReader, schemaOf, type OwnerReader } from '../remote/reader.ts';
import type { SqlRunner } from '../remote/migrations.ts';
import { COMPACT_ANSWERS_SCHEMA, REMOTE_SCHEMA_VERSION, type Transport } from '../remote/transport.ts';
import { redact } from '../redact.ts';
import { check, type Check } from './doctor.ts';
import type { Settings } from '../config/load.ts';

/** What a remote older than the newest schema misses: [the schema that brings it, what it misses]. */
const MISSING: readonly [number, string][] = [
  [4, 'task usage (tokens, cost, repository) lands in extra, not in its columns'],
  [COMPACT_ANSWERS_SCHEMA, 'the remote answers every operation in full (compact answers need schema 5), which costs it more per batch'],
];
const SKEW_WARN_MS = 2_000;
const SKEW_FAIL_MS = 300_000;

const MIGRATE_FIX = 'apply supabase/migrations: `ccm-sync remote migrate` (postgres, embedded) or `supabase db push`';
/** The embedded remote is migrated by whichever process opens it: a daemon started before an upgrade still has the old one. */
const RESTART_FIX = 'restart the daemon (`ccm-sync stop`, then `ccm-sync start`; as a service, `systemctl --user restart ccm-sync`): it migrates the embedded remote when it opens it';

function failureFix(err: unknown): string {
  if (err instanceof CredentialRefusedError) return 'mint a token the remote accepts: ccm-sync remote token (README: Connecting a Supabase project)';
  if (err instanceof RemoteUnavailableError) return 'check the address and the network; `ccm-sync where` shows which remote this home uses';
  if (err instanceof RemoteRejectedError && /TLS certificate|support SSL/.test(err.message)) return 'set sslmode (and sslrootcert) in CCM_SYNC_DATABASE_URL as the message says (README: TLS to the database)';
  if (err instanceof RemoteRejectedError) return MIGRATE_FIX;
  return 'see `ccm-sync sync status`';
}

/** The schema check: too old fails, older than the newest warns with what it misses. */
function schemaCheck(schema: number, fix: string): Check {
  const missing = MISSING.filter(([since]) => schema < since).map(([, what]) => what);
  return schema < REMOTE_SCHEMA_VERSION ? check('remote', 'schema', 'fail', `schema ${schema}; this ccm-sync needs ${REMOTE_SCHEMA_VERSION}`, fix)
    : missing.length ? check('remote', 'schema', 'warn', `schema ${schema}: syncs work, but ${missing.join('; and ')}`, fix)
      : check('remote', 'schema', 'ok', `schema ${schema}`);
}

function tokenCheck(settings: Settings, nowMs: number): Check | undefined {
  const t = tokenFacts(settings);
  if (!t) return undefined;
  if (!t.expires_at) return check('remote', 'token', 'ok', `from ${t.source}, no expiry`);
  const left = Date.parse(t.expires_at) - nowMs;
  const fix = 'mint a fresh one: ccm-sync remote token';
  if (left <= 0) return check('remote', 'token', 'fail', `from ${t.source} expired at ${t.expires_at}`, fix);
  if (left < settings.monitoring.token_expiry_warning_days * 86_400_000) return check('remote', 'token', 'warn', `from ${t.source} expires at ${t.expires_at}`, fix);
  return check('remote', 'token', 'ok', `from ${t.source}, expires at ${t.expires_at} (in ${Math.floor(left / 86_400_000)} days)`);
}

async function skewCheck(t: Transport, clockNow: () => number): Promise<Check> {
  const t0 = clockNow();
  const remote = Date.parse(await t.now(AbortSignal.timeout(10_000)));
  const t1 = clockNow();
  const skew = remote - (t0 + t1) / 2;
  const size = Math.abs(skew);
  const text = `the remote's clock is ${size < 1000 ? `${Math.round(size)} ms` : `${(size / 1000).toFixed(1)} s`} ${skew >= 0 ? 'ahead of' : 'behind'} this machine's (±${Math.ceil((t1 - t0) / 2)} ms)`;
  const fix = 'sync this machine\'s clock (timedatectl set-ntp true): last-write-wins orders writes by their time';
  return Math.abs(skew) > SKEW_FAIL_MS ? check('remote', 'clock', 'fail', text, fix) : Math.abs(skew) > SKEW_WARN_MS ? check('remote', 'clock', 'warn', text, fix) : check('remote', 'clock', 'ok', text);
}

async function rlsCheck(settings: Settings, t: Transport): Promise<Check> {
  if (settings.remote.kind === 'embedded') return check('remote', 'row-level security', 'ok', 'the embedded remote holds this machine only');
  let seen: number;
  try {
    seen = await t.othersVisible(AbortSignal.timeout(10_000));
  } catch (err) {
    // A remote from before schema 4 has no ccm_visible_systems(): syncs still work there.
    if ((err as { sqlstate?: string }).sqlstate === '42883') return check('remote', 'row-level security', 'warn', 'not checked: the remote\'s schema predates the check (no ccm_visible_systems())', MIGRATE_FIX);
    throw err;
  }
  if (seen !== 0) return check('remote', 'row-level security', 'fail', `this system's credentials read ${seen} other systems' rows`, 'give this machine a token of its own (ccm-sync remote token), never the secret key; README: What the remote trusts');
  // On postgres the sync runs as `authenticated` whatever the URL's user is; a user that bypasses
  // row-level security could still read every system with psql, and on a fleet's machine it should not.
  const who = settings.remote.kind === 'postgres' ? await readsEverySystem(t as unknown as SqlRunner, settings.remote.schema) : undefined;
  if (who?.ok) return check('remote', 'row-level security', 'warn', `syncs see only this system's rows, but the database user ${who.who} may read every system's`, 'on a fleet\'s machines, connect as a role that is only a member of authenticated (README: What the remote trusts)');
  return check('remote', 'row-level security', 'ok', 'this system reads no other system\'s rows');
}

/**
 * The embedded remote while another process holds it open (one at a time may): checked through
 * this home's daemon when it is the holder. It runs on this machine's clock, and holds this
 * machine's rows only.
 */
async function heldEmbeddedChecks(settings: Settings, holder: number): Promise<Check[]> {
  let reader: OwnerReader;
  try {
    reader = await openOwnerReader(settings);
  } catch (err) {
    return [check('remote', 'reachable', 'fail', `embedded: ${redact(messageOf(err))}`, `process ${holder} is not this home's daemon: wait for it to end, or stop it; then run doctor again`)];
  }
  const reachable = check('remote', 'reachable', 'ok', reader.viaDaemon ? `embedded: open in the running daemon (pid ${reader.viaDaemon}), checked through it` : 'embedded answers');
  try {
    return [reachable, schemaCheck(await schemaOf(reader, settings), RESTART_FIX),
      check('remote', 'clock', 'ok', 'the embedded remote runs on this machine\'s clock'),
      check('remote', 'row-level security', 'ok', 'the embedded remote holds this machine only')];
  } catch (err) {
    return [reachable, check('remote', 'schema', 'fail', redact(messageOf(err)), RESTART_FIX)];
  } finally {
    await reader.close();
  }
}

/** Whether another installation syncs as this system (src/remote/identity.ts). */
async function installationCheck(settings: Settings, t: Transport, me: Installation): Promise<Check | undefined> {
  if (!t.ownHeartbeat) return undefined;
  const other = await otherHolder(t, me, AbortSignal.timeout(10_000));
  if (!other) return check('remote', 'installation', 'ok', `no other installation syncs as system ${settings.system.id}`);
  return check('remote', 'installation', 'fail', `another installation (host ${other.host ?? 'unknown'}, last heard from ${other.at ?? 'at an unknown time'}) syncs as system ${settings.system.id}: this one's uploads are refused`,
    'give this machine its own system.id, or, if it replaces that one, `ccm-sync sync takeover` (README: A fleet)');
}

/** `me`: this installation, when its local database says (the installation check). */
export async function remoteChecks(settings: Settings, nowMs: number, clockNow: () => number = Date.now, me?: Installation): Promise<Check[]> {
  const out: Check[] = [];
  const token = tokenCheck(settings, nowMs);
  if (token) out.push(token);
  if (settings.remote.kind === 'embedded' && !existsSync(path.join(settings.paths.embedded, 'PG_VERSION'))) {
    return [...out, check('remote', 'reachable', 'ok', 'the embedded remote is created at the first sync')];
  }
  const holder = settings.remote.kind === 'embedded' ? embeddedHolder(settings.paths.embedded) : undefined;
  if (holder !== undefined) return [...out, ...await heldEmbeddedChecks(settings, holder)];
  let t: Transport | undefined;
  try {
    const { openTransport } = await import('../remote/index.ts');
    t = await openTransport(settings);
    await t.ping(AbortSignal.timeout(10_000));
    out.push(check('remote', 'reachable', 'ok', `${settings.remote.kind} answers`));
  } catch (err) {
    out.push(check('remote', 'reachable', 'fail', `${settings.remote.kind}: ${redact(messageOf(err))}`, failureFix(err)));
    await t?.close().catch(() => undefined);
    return out;
  }
  try {
    const { schema } = await t.info(AbortSignal.timeout(10_000));
    out.push(schemaCheck(schema, settings.remote.kind === 'embedded' ? RESTART_FIX : MIGRATE_FIX));
  } catch (err) {
    out.push(check('remote', 'schema', 'fail', redact(messageOf(err)), failureFix(err)));
    await t.close().catch(() => undefined);
    return out;
  }
  try {
    out.push(await skewCheck(t, clockNow));
    out.push(await rlsCheck(settings, t));
    const mine = me ? await installationCheck(settings, t, me) : undefined;
    if (mine) out.push(mine);
  } catch (err) {
    out.push(check('remote', 'checks', 'fail', redact(messageOf(err)), failureFix(err)));
  } finally {
    await t.close().catch(() => undefined);
  }
  return out;
}
