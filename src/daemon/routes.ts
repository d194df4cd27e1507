/**
 * The local API's routes (served by ./api.ts):
 *
 *   POST /api/sync/now        run a sync now; answers the design's result
 *   POST /api/sync/drain      sync until nothing eligible is pending
 *   GET  /api/sync/status     the status object (same as `ccm-sync sync status --json`)
 *   POST /api/operations      record one operation, an array, or {operations: [...]}
 *   POST /api/sync/retry-failed   every dead letter back to pending
 *   POST /api/pause {paused?} pause or resume automatic syncs (resuming runs what the pause deferred)
 *   POST /api/offline {duration_ms|null}   simulate an outage
 *   POST /api/verify {ops}    which operations the remote ledger does not hold
 *   POST /api/remote/query {sql, timeout_ms}   one read-only statement (the embedded remote this daemon holds)
 *   GET  /metrics             Prometheus text format
 */
import { InputError } from '../errors.ts';
import { statusSnapshot } from '../monitor/status.ts';
import { retryFailed } from '../repair.ts';
import { onlyKeys, type ApiRoutes } from './api.ts';
import type { Settings } from '../config/load.ts';
import type { Local } from '../local.ts';
import type { VerifyItem } from '../remote/transport.ts';
import type { SyncWorkerHost } from '../workers/host.ts';
import type { ConnectionMonitor } from './connection.ts';
import type { SyncResult, TriggerType } from '../types.ts';

export interface RouteDeps {
  settings: Settings;
  local: Local;
  worker: SyncWorkerHost;
  conn: ConnectionMonitor;
  syncNow(trigger: TriggerType): Promise<SyncResult>;
  enqueue(trigger: TriggerType, reason: string): void;
  /** Operations were recorded in this process: look at the thresholds now. */
  recorded(): void;
  /** Automatic syncs resumed: run what the pause deferred. */
  resumed(): void;
  extra?: ApiRoutes;
}

export function apiRoutes(d: RouteDeps): ApiRoutes {
  const { local, settings } = d;
  return {
    'POST /api/sync/now': (body) => {
      onlyKeys(body, []);
      return d.syncNow('manual');
    },
    'POST /api/sync/drain': (body) => {
      onlyKeys(body, []);
      return d.syncNow('drain');
    },
    'GET /api/sync/status': () => statusSnapshot(local, settings, { byTable: true }),
    'POST /api/operations': (body) => {
      const list = Array.isArray(body) ? body : body && typeof body === 'object' && 'operations' in body ? onlyKeys(body, ['operations']).operations : [body];
      if (!Array.isArray(list) || list.length === 0) throw new InputError('expected an operation, an array of operations, or {"operations": [...]}');
      const res = local.recorder.record(list);
      d.recorded();
      return { recorded: res.op_ids.length, op_ids: res.op_ids };
    },
    'POST /api/sync/retry-failed': (body) => {
      onlyKeys(body, []);
      const out = retryFailed(local, settings, 'all');
      if (out.requeued.length > 0) d.enqueue('retry', `${out.requeued.length} failed operations re-queued`);
      return { requeued: out.requeued.length, warnings: out.warnings };
    },
    'POST /api/pause': (body) => {
      const want = onlyKeys(body, ['paused']).paused;
      if (want !== undefined && typeof want !== 'boolean') throw new InputError('paused must be true or false (or absent, to toggle)');
      const paused = want ?? !(local.state.get('paused')?.paused ?? false);
      local.state.set('paused', { paused, at: new Date(local.clock.now()).toISOString() });
      if (!paused) d.resumed();
      return { paused };
    },
    'POST /api/offline': (body) => {
      const ms = onlyKeys(body, ['duration_ms']).duration_ms;
      if (ms !== null && ms !== undefined && (typeof ms !== 'number' || ms < 0)) throw new InputError('duration_ms must be a non-negative number or null');
      const until = typeof ms === 'number' && ms > 0 ? local.clock.now() + ms : null;
      d.conn.simulate(until);
      return { simulated_offline_until: until ? new Date(until).toISOString() : null };
    },
    'POST /api/verify': async (body) => {
      const ops = onlyKeys(body, ['ops']).ops;
      if (!Array.isArray(ops)) throw new InputError('expected {"ops": [{"op_id", "seq"}, ...]}');
      const missing: string[] = [];
      const pruned: string[] = [];
      for (let i = 0; i < ops.length; i += 5000) {
        const v = await d.worker.verify(ops.slice(i, i + 5000) as VerifyItem[]);
        missing.push(...v.missing);
        pruned.push(...v.pruned);
      }
      return { checked: ops.length, missing, pruned };
    },
    'POST /api/remote/query': async (body) => {
      const { sql, timeout_ms: timeoutMs } = onlyKeys(body, ['sql', 'timeout_ms']);
      if (typeof sql !== 'string' || typeof timeoutMs !== 'number') throw new InputError('expected {"sql": "select …", "timeout_ms": 30000}');
      return d.worker.query(sql, timeoutMs);
    },
    ...d.extra,
  };
}
