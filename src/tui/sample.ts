/** A dashboard model with known values: the component tests assert on it, example.tsx shows it. */
import type { DashboardModel } from './model.ts';
import type { FleetView } from '../monitor/fleet.ts';

export const NOW = Date.parse('2026-08-01T12:00:00.000Z');

export function fixtureModel(over: Partial<DashboardModel['status']> = {}): DashboardModel {
  return {
    now: NOW,
    status: {
      at: new Date(NOW).toISOString(),
      system: { id: 'ws-42', type: 'developer_workstation' },
      mode: 'adaptive',
      remote: 'embedded',
      enabled: true,
      pending: { total: 23, by_priority: { urgent: 1, high: 2, normal: 15, low: 5 }, by_table: { hook_events: 12, tasks: 8, alerts: 3 }, oldest_created_at: '2026-08-01T11:55:00.000Z' },
      waiting: { count: 2, next_attempt_at: '2026-08-01T12:04:00.000Z', reasons: [{ code: '40001', message: 'rejected by the remote (40001): could not serialize access', count: 2 }] },
      failed: 1,
      failed_reasons: [{ code: '22007', message: 'rejected by the remote (22007): invalid input syntax for type timestamp with time zone: "yesterday-ish". Not retried: the same data would be refused again.', count: 1 }],
      conflicts: 1,
      last_sync: { at: '2026-08-01T11:55:00.000Z', trigger: 'threshold_total', operations: 50, duration_ms: 340, success: true },
      last_success: '2026-08-01T11:55:00.000Z',
      next_sync: '2026-08-01T12:10:00.000Z',
      interval: { base_seconds: 1800, effective_seconds: 900, rate_per_minute: 10 },
      connection: { state: 'online', since: '2026-08-01T09:00:00.000Z', consecutive_failures: 0 },
      activity: { kind: 'idle', at: '2026-08-01T11:55:01.000Z' },
      paused: false,
      simulated_offline_until: null,
      daemon: { pid: 4242, port: 7787, started_at: '2026-08-01T09:00:00.000Z' },
      alerts: [{ rule: 'queue_backlog', severity: 'warning', message: '623 operations pending (limit 500)' }],
      token: null,
      credential_refused: null,
      reduction_24h: { operations_in: 530, operations_out: 30, bytes_in: 530_000, bytes_out: 21_000 },
      hooks: { last_event_at: '2026-08-01T11:59:30.000Z', last_event: 'PostToolUse', spooled: 0, rejected: 0, failures: 0, last_failure: null, log: '/home/ana/.ccm-global/logs/hooks.log', intake_error: null },
      home: '/home/ana/.ccm-global',
      ...over,
    },
    recent: [
      { id: 2, timestamp: '2026-08-01T11:55:00.000Z', operations_synced: 50, duration_ms: 340, trigger_type: 'threshold_total', success: 1, error_message: null, batches: 1, bytes_sent: 9000, operations_in: 50, bytes_in: 50_000, operations_out: 10, stale: 0, conflicts: 0, rejected: 0, failed: 0 },
      { id: 1, timestamp: '2026-08-01T11:40:00.000Z', operations_synced: 0, duration_ms: 5012, trigger_type: 'periodic', success: 0, error_message: 'remote unreachable', batches: 0, bytes_sent: 0, operations_in: 0, bytes_in: 0, operations_out: 0, stale: 0, conflicts: 0, rejected: 0, failed: 1 },
    ],
    perMinute: Array.from({ length: 60 }, (_, i) => (i % 10 === 0 ? 50 : i % 3)),
    failed: [{
      id: 7, op_id: 'x', table_name: 'tasks', record_id: 'bad-1', operation: 'INSERT', status: 'failed', retry_count: 1, error_code: '22007',
      error_message: 'rejected by the remote (22007): invalid input syntax for type timestamp with time zone: "yesterday-ish". Not retried: the same data would be refused again. Fix: a value does not fit its column (see `ccm-sync tables`); record a corrected operation and `ccm-sync failed discard` this one.',
      failed_at: '2026-08-01T11:00:00.000Z', created_at: '2026-08-01T10:00:00.000Z', discarded_at: null, discarded_by: null,
    }],
    conflicts: [{ id: 9, table: 'supervisory_reports', record_id: 'rep-1', local: '{"summary":"local"}', remote: '{"summary":"remote"}' }],
  };
}

/** A fleet of three systems: one fine, one stale, one failing. */
export function fixtureFleet(): FleetView {
  const sys = (id: string, over: Partial<FleetView['systems'][number]> = {}): FleetView['systems'][number] => ({
    system_id: id, type: 'developer_workstation', version: '0.1.0', last_seen_at: '2026-08-01T11:58:00.000Z', last_sync_at: '2026-08-01T11:58:00.000Z',
    backlog: 3, failed: 0, connection: 'online', token_expires_at: null, alerts: [], stale: false, failing: false, problems: [], ...over,
  });
  return {
    at: new Date(NOW).toISOString(),
    stale_after_minutes: 90,
    systems: [sys('ws-42'), sys('prod-03', { type: 'production_server', last_seen_at: '2026-08-01T07:00:00.000Z', stale: true, problems: ['silent for 300 min'] }), sys('backup-1', { type: 'backup_server', failed: 2, failing: true, alerts: ['operations_failed'], problems: ['2 dead-lettered', 'alerts: operations_failed'] })],
    totals: { systems: 3, stale: 1, failing: 1, backlog: 9, failed: 2 },
    agents: { 'ws-42': { tasks: 41, cost_usd: 12.3456, failure_rate: 0.05, permission_wait_seconds: 310 } },
  };
}
