/**
 * Alert rules, with thresholds from `monitoring.*`:
 * - sync_failures: more than max_failures_per_hour failed syncs in the last hour;
 * - queue_backlog: more than max_pending_operations operations pending;
 * - sync_stale: the last successful sync is older than max_seconds_since_success. A system that
 *   never synced gets the same grace from its oldest pending operation, so a fresh install is not
 *   stale before a first sync has had its chance;
 * - operations_failed: more than max_failed_operations dead letters (operations the remote
 *   refused for good, or that could not be packaged). It clears when they are retried or discarded.
 * - token_expiring / token_expired: the supabase token expires within token_expiry_warning_days,
 *   or has expired;
 * - credential_refused: the remote refused this machine's credential, and syncs wait for one it
 *   accepts;
 * - disk_full: the disk holding the home has less than min_free_disk_mb free, or the daemon's
 *   last write failed for lack of space (nothing new can be recorded or settled).
 *
 * `reconcileAlerts` remembers what fires in `alert_state`: a rule that starts firing is queued once
 * as an urgent `alerts` operation; when it clears, the same alert is updated to resolved.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { freeBytes } from './disk.ts';
import { AlertState } from '../store/alert-state.ts';
import type { Settings } from '../config/load.ts';
import type { Local } from '../local.ts';

export interface Alert {
  rule: 'sync_failures' | 'queue_backlog' | 'sync_stale' | 'operations_failed' | 'token_expiring' | 'token_expired' | 'credential_refused' | 'disk_full';
  severity: 'warning' | 'error';
  message: string;
}

/** Where the token comes from and when it expires (see remote/credentials.ts tokenFacts). */
export interface TokenFacts {
  source: string;
  expires_at: string | null;
}

function credentialAlerts(local: Local, monitoring: Settings['monitoring'], nowMs: number, token: TokenFacts | null | undefined): Alert[] {
  const out: Alert[] = [];
  const exp = token?.expires_at ? Date.parse(token.expires_at) : NaN;
  const fix = 'mint a fresh one with `ccm-sync remote token`';
  if (exp <= nowMs) {
    out.push({ rule: 'token_expired', severity: 'error', message: `the token from ${token!.source} expired at ${token!.expires_at}; ${fix}` });
  } else if (exp - nowMs <= monitoring.token_expiry_warning_days * 86_400_000) {
    out.push({ rule: 'token_expiring', severity: 'warning', message: `the token from ${token!.source} expires at ${token!.expires_at} (in ${Math.ceil((exp - nowMs) / 86_400_000)} days); ${fix}` });
  }
  const refused = local.state.get('credential_refused');
  if (refused) out.push({ rule: 'credential_refused', severity: 'error', message: `syncs wait since ${refused.since}: ${refused.reason}` });
  return out;
}

export function evaluateAlerts(local: Local, monitoring: Settings['monitoring'], nowMs: number, token?: TokenFacts | null, diskFull = false): Alert[] {
  const out: Alert[] = credentialAlerts(local, monitoring, nowMs, token);
  const home = path.dirname(local.db.name);
  const free = freeBytes(home);
  if (diskFull || free < monitoring.min_free_disk_mb * 1_048_576) {
    out.push({ rule: 'disk_full', severity: 'error', message: `the disk holding ${home} has ${Number.isFinite(free) ? `${Math.floor(free / 1024)} KiB` : 'little'} free: new operations cannot be recorded nor synced ones settled; free space (syncing resumes by itself)` });
  }
  const hourAgo = new Date(nowMs - 3_600_000).toISOString();
  const failures = local.metrics.failuresSince(hourAgo);
  if (failures > monitoring.max_failures_per_hour) {
    out.push({ rule: 'sync_failures', severity: 'error', message: `${failures} sync failures in the last hour (limit ${monitoring.max_failures_per_hour})` });
  }
  const pending = local.outbox.pendingTotal();
  if (pending > monitoring.max_pending_operations) {
    out.push({ rule: 'queue_backlog', severity: 'warning', message: `${pending} operations pending (limit ${monitoring.max_pending_operations})` });
  }
  const lastSuccess = local.state.get('last_success')?.at;
  const since = lastSuccess ?? (pending > 0 ? local.outbox.oldestPendingCreatedAt() : undefined);
  const ageS = since ? (nowMs - Date.parse(since)) / 1000 : 0;
  if (ageS > monitoring.max_seconds_since_success) {
    const what = lastSuccess ? `last successful sync: ${Math.round(ageS / 60)} minutes ago` : `no successful sync yet; operations have waited ${Math.round(ageS / 60)} minutes`;
    out.push({ rule: 'sync_stale', severity: 'error', message: `${what} (limit ${Math.round(monitoring.max_seconds_since_success / 60)} minutes)` });
  }
  const { failed } = local.outbox.heldBack();
  if (failed > monitoring.max_failed_operations) {
    const top = local.review.failedReasons(1)[0];
    out.push({
      rule: 'operations_failed',
      severity: 'error',
      message: `${failed} operation${failed === 1 ? '' : 's'} dead-lettered${top ? `, e.g. ${top.message.length > 120 ? `${top.message.slice(0, 119)}…` : top.message}` : ''}; see \`ccm-sync failed list\``,
    });
  }
  return out;
}

/** Queues alert operations for rules that started or stopped firing. Returns what changed. */
export function reconcileAlerts(local: Local, firing: readonly Alert[], nowMs: number): { started: string[]; resolved: string[] } {
  const nowIso = new Date(nowMs).toISOString();
  const started: string[] = [];
  const resolved: string[] = [];
  const state = new AlertState(local.db);
  local.db.transaction(() => {
    const known = new Map(state.firing().map((r) => [r.rule, r]));
    for (const a of firing) {
      if (known.has(a.rule)) continue;
      const id = `${a.rule}-${randomUUID()}`;
      state.start({ rule: a.rule, alert_id: id, message: a.message, since: nowIso });
      local.recorder.record([{ operation: 'INSERT', table_name: 'alerts', record_id: id, priority: 'urgent', record_data: { rule: a.rule, severity: a.severity, level: a.severity, category: 'sync', status: 'firing', message: a.message, fired_at: nowIso, source: 'ccm-sync' } }]);
      started.push(a.rule);
    }
    const now = new Set<string>(firing.map((a) => a.rule));
    for (const [rule, row] of known) {
      if (now.has(rule)) continue;
      state.stop(rule);
      local.recorder.record([{ operation: 'UPDATE', table_name: 'alerts', record_id: row.alert_id, priority: 'urgent', record_data: { status: 'resolved', resolved_at: nowIso } }]);
      resolved.push(rule);
    }
  })();
  return { started, resolved };
}
