/**
 * `sync_metrics`: one row per sync, and the queries that summarise them (health table, sparkline,
 * alert rules, Prometheus).
 */
import { statements, type Db } from './db.ts';
import type { SyncResult } from '../types.ts';

export interface MetricRow {
  id: number;
  timestamp: string;
  operations_synced: number;
  duration_ms: number;
  trigger_type: string;
  success: number;
  error_message: string | null;
  batches: number;
  bytes_sent: number;
  operations_in: number;
  bytes_in: number;
  operations_out: number;
  stale: number;
  conflicts: number;
  rejected: number;
  failed: number;
}

export interface HealthDay {
  date: string;
  syncs: number;
  operations: number;
  avg_duration_ms: number;
  failures: number;
  /** Operations that became dead letters that day. */
  failed_operations: number;
  operations_in: number;
  operations_out: number;
  bytes_in: number;
  bytes_out: number;
}

export class MetricsStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = statements(db, {
      // insert: one sync. Params: named columns.
      insert: (`
        INSERT INTO sync_metrics (timestamp, operations_synced, duration_ms, trigger_type, success, error_message,
          batches, bytes_sent, operations_in, bytes_in, operations_out, stale, conflicts, rejected, failed)
        VALUES (@timestamp, @operations_synced, @duration_ms, @trigger_type, @success, @error_message,
          @batches, @bytes_sent, @operations_in, @bytes_in, @operations_out, @stale, @conflicts, @rejected, @failed)`),
      // recent: newest syncs. Params: limit. Returns: MetricRow[].
      recent: ('SELECT * FROM sync_metrics ORDER BY id DESC LIMIT ?'),
      // health: per UTC day since a time, newest first. Params: since iso. Returns: HealthDay[].
      health: (`
        SELECT substr(timestamp, 1, 10) AS date, count(*) AS syncs, sum(operations_synced) AS operations,
               cast(round(avg(duration_ms)) AS INTEGER) AS avg_duration_ms, sum(success = 0) AS failures,
               sum(rejected) AS failed_operations,
               sum(operations_in) AS operations_in, sum(operations_out) AS operations_out,
               sum(bytes_in) AS bytes_in, sum(bytes_sent) AS bytes_out
        FROM sync_metrics WHERE timestamp >= ? GROUP BY date ORDER BY date DESC`),
      // failuresSince: failed syncs since a time. Params: iso. Returns: {n}.
      failuresSince: ('SELECT count(*) AS n FROM sync_metrics WHERE success = 0 AND timestamp >= ?'),
      // perMinute: operations synced per minute since a time. Params: iso. Returns: [{minute, n}].
      perMinute: (`
        SELECT substr(timestamp, 1, 16) AS minute, sum(operations_synced) AS n
        FROM sync_metrics WHERE timestamp >= ? GROUP BY minute`),
      // totals: reduction since a time. Params: iso.
      totals: (`
        SELECT coalesce(sum(operations_in), 0) AS operations_in, coalesce(sum(operations_out), 0) AS operations_out,
               coalesce(sum(bytes_in), 0) AS bytes_in, coalesce(sum(bytes_sent), 0) AS bytes_out
        FROM sync_metrics WHERE timestamp >= ?`),
      // prune: deletes rows before a time. Params: iso.
      prune: ('DELETE FROM sync_metrics WHERE timestamp < ?'),
    });
  }

  record(result: SyncResult, at: Date): void {
    this.stmts.insert.run({
      timestamp: at.toISOString(),
      operations_synced: result.operations_synced,
      duration_ms: result.duration_ms,
      trigger_type: result.trigger,
      success: result.status === 'failed' ? 0 : 1,
      error_message: result.error ?? null,
      batches: result.batches,
      bytes_sent: result.bytes_sent,
      operations_in: result.operations_in,
      bytes_in: result.bytes_in,
      operations_out: result.operations_out,
      stale: result.operations_stale,
      conflicts: result.operations_conflict,
      rejected: result.operations_failed,
      failed: result.status === 'failed' ? 1 : 0,
    });
  }

  recent(limit: number): MetricRow[] {
    return this.stmts.recent.all(limit) as MetricRow[];
  }

  health(sinceIso: string): HealthDay[] {
    return this.stmts.health.all(sinceIso) as HealthDay[];
  }

  failuresSince(sinceIso: string): number {
    return (this.stmts.failuresSince.get(sinceIso) as { n: number }).n;
  }

  perMinute(sinceIso: string): Map<string, number> {
    const rows = this.stmts.perMinute.all(sinceIso) as { minute: string; n: number }[];
    return new Map(rows.map((r) => [r.minute, r.n]));
  }

  reduction(sinceIso: string): { operations_in: number; operations_out: number; bytes_in: number; bytes_out: number } {
    return this.stmts.totals.get(sinceIso) as { operations_in: number; operations_out: number; bytes_in: number; bytes_out: number };
  }

  prune(beforeIso: string): number {
    return this.stmts.prune.run(beforeIso).changes;
  }
}
