/** `sync status` as lines for a person: shared by `sync status` and the dashboard's plain snapshot (`tui --once`). */
import { hookLine } from '../monitor/hook-health.ts';
import { ago, byteChange, bytes } from '../text.ts';
import type { StatusSnapshot } from '../monitor/status.ts';

export function statusLines(s: StatusSnapshot, nowMs = Date.now()): string[] {
  const prio = ['urgent', 'high', 'normal', 'low'].map((p) => `${p} ${s.pending.by_priority[p] ?? 0}`).join(', ');
  const last = s.last_sync ? `${ago(s.last_sync.at, nowMs)} (${s.last_sync.trigger}, ${s.last_sync.operations} operations, ${s.last_sync.duration_ms} ms, ${!s.last_sync.success ? `failed: ${s.last_sync.error ?? ''}` : s.last_sync.failed ? `${s.last_sync.failed} refused by the remote: ccm-sync failed list` : s.last_sync.conflicts ? `${s.last_sync.conflicts} held for conflict review: ccm-sync conflicts list` : 'ok'})` : 'never';
  const interval = s.interval ? `; interval ${Math.round(s.interval.effective_seconds / 60)} min (base ${Math.round(s.interval.base_seconds / 60)} min, ${s.interval.rate_per_minute.toFixed(1)} ops/min)` : '';
  const next = s.paused ? 'paused' : s.next_sync ? `${ago(s.next_sync, nowMs)}${interval}` : s.enabled ? 'when the daemon runs' : 'disabled (sync.enabled: false)';
  const c = s.connection;
  const conn = `${c.state}${c.since ? ` since ${c.since}` : ' (no outage seen yet)'}${c.reason && c.state !== 'online' ? ` (${c.reason})` : ''}${c.next_probe_at && c.state === 'offline' ? `; next probe ${ago(c.next_probe_at, nowMs)}` : ''}${s.simulated_offline_until ? `; simulated until ${s.simulated_offline_until}` : ''}`;
  const r = s.reduction_24h;
  const hooks = hookLine(s.hooks, (iso) => ago(iso, nowMs));
  const reduction = r.operations_in > 0 ? `${r.operations_in} → ${r.operations_out} operations, ${bytes(r.bytes_in)} → ${bytes(r.bytes_out)} (${byteChange(r.bytes_in, r.bytes_out)})` : 'nothing synced in 24h';
  return [
    `Pending operations: ${s.pending.total} (${prio})${s.pending.oldest_created_at ? `, oldest ${ago(s.pending.oldest_created_at, nowMs)}` : ''}`,
    `Last sync: ${last}`,
    // Why the daemon's last attempt did not sync (a failure before any operation was read, a backoff).
    ...(s.daemon && s.activity?.reason && s.activity.kind !== 'syncing' && !(s.activity.kind === 'backing_off' && s.connection.state !== 'online') ? [`Last attempt: ${s.activity.kind === 'backing_off' ? 'backing off' : 'failed'} ${ago(s.activity.at, nowMs)}: ${s.activity.reason}${s.activity.next_retry_at ? `; next try ${ago(s.activity.next_retry_at, nowMs)}` : ''}`] : []),
    `Next sync: ${next}`,
    `Connection: ${conn}`,
    ...(s.credential_refused ? [`Credential: refused since ${s.credential_refused.since}; syncs wait, next check ${ago(s.credential_refused.next_check_at, nowMs)} (${s.credential_refused.reason})`] : []),
    ...(s.token ? [`Token: from ${s.token.source}, ${s.token.expires_at ? `${Date.parse(s.token.expires_at) > nowMs ? 'expires' : 'expired'} ${ago(s.token.expires_at, nowMs)} (${s.token.expires_at})` : 'expiry unknown'}`] : []),
    `Mode: ${s.mode} · remote: ${s.remote} · system: ${s.system.id} (${s.system.type})`,
    `Daemon: ${s.daemon ? `running (pid ${s.daemon.pid}, port ${s.daemon.port})` : 'not running (start it with `ccm-sync start`)'}`,
    `Failed: ${s.failed} · Conflicts: ${s.conflicts} · Waiting to retry: ${s.waiting.count}${s.waiting.next_attempt_at ? ` (next ${ago(s.waiting.next_attempt_at, nowMs)})` : ''}`,
    ...s.failed_reasons.slice(0, 3).map((r) => `  failed ${r.count} × ${r.message}`),
    ...s.waiting.reasons.slice(0, 3).map((r) => `  waiting ${r.count} × ${r.message}`),
    ...(s.failed ? ['  see `ccm-sync failed list`; retry or discard with `ccm-sync failed retry|discard`'] : []),
    `Packaging (24h): ${reduction}`,
    ...(hooks ? [`Hooks: ${hooks}`] : []),
    `Home: ${s.home}`,
    s.alerts.length ? `Alerts:\n${s.alerts.map((a) => `  [${a.severity}] ${a.rule}: ${a.message}`).join('\n')}` : 'Alerts: none',
  ];
}
