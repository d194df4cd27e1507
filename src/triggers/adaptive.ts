/**
 * The adaptive periodic interval.
 *
 * Rule: effective = base × factor, where base comes from the mode and system type, and factor
 * falls linearly from `max_factor` (idle: nothing recorded in the last 15 minutes) to `min_factor`
 * (busy: `busy_ops_per_minute` or more recorded per minute over the last 15 minutes). With the
 * adaptive preset that is between a quarter of the base interval and twice it; the aggressive
 * preset stays between 0.5× and 1×, the conservative preset never moves (1×).
 */
import { baseIntervalSeconds, type Settings } from '../config/load.ts';
import type { Db } from '../store/db.ts';

export const RATE_WINDOW_MINUTES = 15;

export interface IntervalChoice {
  base_seconds: number;
  effective_seconds: number;
  rate_per_minute: number;
}

export function effectiveInterval(settings: Pick<Settings, 'sync' | 'system'>, ratePerMinute: number): IntervalChoice {
  const base = baseIntervalSeconds(settings);
  const { min_factor, max_factor, busy_ops_per_minute } = settings.sync.adaptive;
  const busyness = Math.min(1, Math.max(0, ratePerMinute / busy_ops_per_minute));
  const factor = max_factor - (max_factor - min_factor) * busyness;
  return { base_seconds: base, effective_seconds: Math.max(1, Math.round(base * factor)), rate_per_minute: ratePerMinute };
}

/** Operations recorded per minute over the last RATE_WINDOW_MINUTES, from the outbox itself. */
export function recordingRate(db: Db, nowMs: number): number {
  const since = new Date(nowMs - RATE_WINDOW_MINUTES * 60_000).toISOString();
  // Uses idx_sync_queue_priority (priority, created_at): four short range scans.
  const row = db.prepare(`SELECT count(*) AS n FROM sync_queue WHERE priority IN ('urgent', 'high', 'normal', 'low') AND created_at >= ?`).get(since) as { n: number };
  return row.n / RATE_WINDOW_MINUTES;
}
