/**
 * One system id, one installation. Every heartbeat names the installation that sent it (an id made
 * once per local database, and the host's name). Before a transport's first upload, the system's
 * own row on the remote is read back (row-level security lets a system read its own): if another
 * installation wrote it last, nothing is uploaded. Two machines syncing as one system id would
 * otherwise overwrite each other's records, and each would take the other's watermark for a
 * restore from an older copy (CCM01). A restored copy of the same database carries the same id and
 * passes. `ccm-sync sync takeover` lets this installation take the id over from the one it names
 * (a reinstall, a new home on the same machine, a machine that replaces another).
 */
import { randomUUID } from 'node:crypto';
import { ConfigError, isRetryable } from '../errors.ts';
import { printable } from '../text.ts';
import type { StateStore } from '../store/state.ts';
import type { Transport } from './transport.ts';

export interface Installation {
  instance: string;
  /** Another installation this one may take the system id over from (`sync takeover`). */
  accepts?: string;
}

/** What the remote's row says of the installation that last synced as this system. */
export interface Holder {
  instance: string;
  host: string | null;
  at: string | null;
}

/** This installation as its database says, without writing (doctor may look at a read-only copy). */
export function installationSeen(state: StateStore): Installation | undefined {
  const mine = state.get('installation');
  if (!mine) return undefined;
  const takeover = state.get('installation_takeover');
  return { instance: mine.instance, ...(takeover ? { accepts: takeover.instance } : {}) };
}

/**
 * This installation. Local migration 9 makes its id with the database; made here too in case that
 * row is gone.
 */
export function installationOf(state: StateStore, nowIso = new Date().toISOString()): Installation {
  const seen = installationSeen(state);
  if (seen) return seen;
  state.set('installation', { instance: randomUUID(), created_at: nowIso });
  return installationSeen(state)!;
}

/** The installation the remote's row names, when a heartbeat says (heartbeats before this had no instance). */
export function holderOf(heartbeat: unknown): Holder | undefined {
  const h = (typeof heartbeat === 'object' && heartbeat !== null ? heartbeat : {}) as Record<string, unknown>;
  if (typeof h.instance !== 'string' || !h.instance) return undefined;
  return { instance: h.instance, host: printable(h.host), at: printable(h.at) };
}

/** The other installation that holds `systemId` on the remote, or undefined when it is this one or none. */
export async function otherHolder(t: Transport, me: Installation, signal?: AbortSignal): Promise<Holder | undefined> {
  if (!t.ownHeartbeat) return undefined;
  const holder = holderOf(await t.ownHeartbeat(signal));
  return holder && holder.instance !== me.instance && holder.instance !== me.accepts ? holder : undefined;
}

/** When each transport last found no other installation; a long-running daemon checks again after RECHECK_MS. */
const passed = new WeakMap<Transport, number>();
const RECHECK_MS = 10 * 60_000;

/**
 * Refuses to upload as `systemId` while another installation holds it: checked before a
 * transport's first upload, and again every ten minutes, so that of two daemons started before
 * a takeover, the one taken over from stops too.
 */
export async function checkInstallation(t: Transport, systemId: string, me: Installation, nowMs: number, signal?: AbortSignal): Promise<void> {
  const last = passed.get(t);
  if (last !== undefined && nowMs - last < RECHECK_MS) return;
  let other: Holder | undefined;
  try {
    other = await otherHolder(t, me, signal);
  } catch (err) {
    // A remote that will not show a system its own row (a grant taken away) is not a reason to stop
    // syncing: the guard is skipped there. An outage is the upload's failure too, and said as that.
    if (isRetryable(err)) throw err;
    return;
  }
  if (other) {
    throw new ConfigError(
      `system id ${systemId} is in use on the remote by another installation of ccm-sync (host ${other.host ?? 'unknown'}, ` +
        `last heard from ${other.at ?? 'at an unknown time'}). Two machines syncing as one system overwrite each other's records, so ` +
        'nothing was uploaded, and every operation stays queued. Give this machine its own system.id in its config ' +
        '(`ccm-sync where` names the file), or, if this machine replaces that one, take the id over: `ccm-sync sync takeover`',
    );
  }
  passed.set(t, nowMs);
}
