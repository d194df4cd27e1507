/**
 * Alert rules from the design, with thresholds from `monitoring.*`:
 * - sync_failures: more than max_failures_per_hour failed syncs in the last hour;
 * - queue_backlog: more than max_pending_operations operations pending;
 * - sync_stale: the last successful sync is older than max_seconds_since_success (only once
 *   something has been recorded: a machine that never recorded anything is not stale).
 *
 * `reconcileAlerts` remembers what fires in `alert_state`: a rule that starts firing is queued once
 * as an urgent `alerts` operation; when it clears, the same alert is updated to resolved.
 */
import { randomUUID } from 'node:crypto';
import type { Settings } from '../config/load.ts';
import type { Local } from '../local.ts';

export interface Alert {
  rule: 'sync_failures' | 'queue_backlog' | 'sync_stale';
  severity: 'warning' | 'error';
  message: string;
}

export function evaluateAlerts(local: Local, monitoring: Settings['monitoring'], nowMs: number): Alert[] {
  const out: Alert[] = [];
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
  const anything = lastSuccess !== undefined || pending > 0;
  const ageS = lastSuccess ? (nowMs - Date.parse(lastSuccess)) / 1000 : Number.POSITIVE_INFINITY;
  if (anything && ageS > monitoring.max_seconds_since_success) {
    const since = lastSuccess ? `${Math.round(ageS / 60)} minutes ago` : 'never';
    out.push({ rule: 'sync_stale', severity: 'error', message: `last successful sync: ${since} (limit ${Math.round(monitoring.max_seconds_since_success / 60)} minutes)` });
  }
  return out;
}

/** Queues alert operations for rules that started or stopped firing. Returns what changed. */
export function reconcileAlerts(local: Local, firing: readonly Alert[], nowMs: number): { started: string[]; resolved: string[] } {
  const nowIso = new Date(nowMs).toISOString();
  const started: string[] = [];
  const resolved: string[] = [];
  local.db.transaction(() => {
    const known = new Map((local.db.prepare('SELECT rule, alert_id, since FROM alert_state').all() as { rule: string; alert_id: string; since: string }[]).map((r) => [r.rule, r]));
    for (const a of firing) {
      if (known.has(a.rule)) continue;
      const id = `${a.rule}-${randomUUID()}`;
      local.db.prepare('INSERT INTO alert_state (rule, alert_id, message, since) VALUES (?, ?, ?, ?)').run(a.rule, id, a.message, nowIso);
      local.recorder.record([{ operation: 'INSERT', table_name: 'alerts', record_id: id, priority: 'urgent', record_data: { rule: a.rule, severity: a.severity, category: 'sync', status: 'firing', message: a.message, fired_at: nowIso } }]);
      started.push(a.rule);
    }
    const now = new Set<string>(firing.map((a) => a.rule));
    for (const [rule, row] of known) {
      if (now.has(rule)) continue;
      local.db.prepare('DELETE FROM alert_state WHERE rule = ?').run(rule);
      local.recorder.record([{ operation: 'UPDATE', table_name: 'alerts', record_id: row.alert_id, priority: 'urgent', record_data: { status: 'resolved', resolved_at: nowIso } }]);
      resolved.push(rule);
    }
  })();
  return { started, resolved };
}
