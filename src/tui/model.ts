/**
 * Everything the dashboard shows, read from the local database in one pass. The Ink components
 * receive this object as props and never touch SQLite.
 */
import { statusSnapshot, type StatusSnapshot } from '../monitor/status.ts';
import type { Settings } from '../config/load.ts';
import type { Local } from '../local.ts';
import type { FailedRow } from '../store/review.ts';
import type { MetricRow } from '../store/metrics.ts';

export interface DashboardModel {
  now: number;
  status: StatusSnapshot;
  recent: MetricRow[];
  /** Operations synced per minute, oldest first, for the last 60 minutes. */
  perMinute: number[];
  failed: FailedRow[];
  conflicts: { id: number; table: string; record_id: string; local: string; remote: string }[];
}

export function buildModel(local: Local, settings: Settings): DashboardModel {
  const now = local.clock.now();
  const byMinute = local.metrics.perMinute(new Date(now - 3_600_000).toISOString());
  const perMinute: number[] = [];
  for (let i = 59; i >= 0; i--) perMinute.push(byMinute.get(new Date(now - i * 60_000).toISOString().slice(0, 16)) ?? 0);
  return {
    now,
    status: statusSnapshot(local, settings, { byTable: true }),
    recent: local.metrics.recent(6),
    perMinute,
    failed: local.review.failed(20),
    conflicts: local.review.conflicts(5).map((c) => ({
      id: c.id,
      table: c.table_name,
      record_id: c.record_id,
      local: c.record_data ?? 'null',
      remote: c.remote_data ?? 'null',
    })),
  };
}
