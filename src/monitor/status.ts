/**
 * Stage 7, monitor: one snapshot of everything a person asks "is sync healthy?" about. `sync status`, the API's
 * /api/sync/status and the TUI all show this object; it reads the local database only.
 */
import { hookHealth, type HookHealth } from './hook-health.ts';
import { evaluateAlerts, type Alert, type TokenFacts } from './alerts.ts';
import { tokenFacts } from '../remote/credentials.ts';
import type { Settings } from '../config/load.ts';
import type { Local } from '../local.ts';
import type { ConnectionState, StateKeys } from '../store/state.ts';
import type { Reason } from '../types.ts';

export interface StatusSnapshot {
  at: string;
  system: { id: string; type: string };
  mode: string;
  remote: string;
  enabled: boolean;
  pending: { total: number; by_priority: Record<string, number>; by_table?: Record<string, number>; oldest_created_at: string | null };
  /** Pending operations waiting out a retry delay, and why. */
  waiting: { count: number; next_attempt_at: string | null; reasons: Reason[] };
  /** Dead letters, and the most common reasons. */
  failed: number;
  failed_reasons: Reason[];
  conflicts: number;
  last_sync: StateKeys['last_sync'] | null;
  last_success: string | null;
  next_sync: string | null;
  interval: StateKeys['interval'] | null;
  /** since is null while no state change was ever recorded (no daemon has watched the link yet). */
  connection: Omit<ConnectionState, 'since'> & { since: string | null };
  activity: StateKeys['activity'] | null;
  paused: boolean;
  simulated_offline_until: string | null;
  daemon: StateKeys['daemon'] | null;
  alerts: Alert[];
  /** The supabase token's source and expiry (the daemon's own when one runs); null on other remotes. */
  token: TokenFacts | null;
  /** Syncs wait for a credential the remote accepts. */
  credential_refused: StateKeys['credential_refused'] | null;
  reduction_24h: { operations_in: number; operations_out: number; bytes_in: number; bytes_out: number };
  /** Coding-agent hooks: last event, spooled and set-aside events, logged failures. */
  hooks: HookHealth;
  /** The home this status is of (`ccm-sync where`). */
  home: string;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A transcript problem of the last hour, as the hooks' intake error: usage is missing from summaries meanwhile. */
function transcriptProblem(p: { error: string; at: string } | undefined, nowMs: number): string | null {
  return p && nowMs - Date.parse(p.at) < 3_600_000 ? `a transcript could not be read at ${p.at} (${p.error}); task summaries lack its usage until it can` : null;
}

export function statusSnapshot(local: Local, settings: Settings, opts: { byTable?: boolean } = {}): StatusSnapshot {
  const now = local.clock.now();
  const st = local.state;
  const back = local.outbox.heldBack();
  const held = local.review.held(now);
  const daemon = st.get('daemon');
  // The daemon's token is the one that syncs; without a daemon, the one these settings name.
  const token = (daemon && st.get('token')) || tokenFacts(settings) || null;
  const sim = st.get('simulated_offline_until')?.until ?? null;
  const byTable = opts.byTable ? local.outbox.pendingByTable() : undefined;
  return {
    at: new Date(now).toISOString(),
    system: { id: settings.system.id, type: settings.system.type },
    mode: settings.sync.mode,
    remote: settings.remote.kind,
    enabled: settings.sync.enabled,
    pending: {
      total: local.outbox.pendingTotal(),
      by_priority: local.outbox.pendingByPriority(),
      ...(byTable ? { by_table: byTable } : {}),
      oldest_created_at: local.outbox.oldestPendingCreatedAt() ?? null,
    },
    waiting: { count: held.waiting, next_attempt_at: held.next_attempt_at, reasons: held.reasons },
    failed: back.failed,
    failed_reasons: back.failed ? local.review.failedReasons() : [],
    conflicts: back.conflict,
    last_sync: st.get('last_sync') ?? null,
    last_success: st.get('last_success')?.at ?? null,
    next_sync: st.get('next_sync')?.at ?? null,
    interval: st.get('interval') ?? null,
    connection: st.get('connection') ?? { state: 'online', since: null, consecutive_failures: 0 },
    activity: st.get('activity') ?? null,
    paused: st.get('paused')?.paused ?? false,
    simulated_offline_until: sim && Date.parse(sim) > now ? sim : null,
    daemon: daemon && processAlive(daemon.pid) ? daemon : null,
    alerts: evaluateAlerts(local, settings.monitoring, now, token),
    token,
    credential_refused: st.get('credential_refused') ?? null,
    reduction_24h: local.metrics.reduction(new Date(now - 86_400_000).toISOString()),
    hooks: { ...hookHealth(local.hookEvents, settings.paths.home, st.get('hook_intake')?.error ?? null, now), transcript_problem: transcriptProblem(st.get('transcript_problem'), now) },
    home: settings.paths.home,
  };
}
