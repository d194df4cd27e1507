/**
 * GET /metrics for the daemon, with prom-client. Gauges are read from the local database at scrape
 * time; sync counters and the duration histogram count what this daemon ran since it started.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Local } from '../local.ts';
import type { SyncResult } from '../types.ts';

const STATES = ['online', 'offline', 'draining'] as const;

export class SyncMetrics {
  readonly registry = new Registry();
  private readonly syncs: Counter<'trigger' | 'result'>;
  private readonly ops: Counter<'outcome'>;
  private readonly duration: Histogram<'trigger'>;

  constructor(local: Local) {
    const r = this.registry;
    new Gauge({
      name: 'ccm_sync_queue_depth', help: 'Pending operations by priority', labelNames: ['priority'], registers: [r],
      collect() {
        const by = local.outbox.pendingByPriority();
        for (const p of ['urgent', 'high', 'normal', 'low']) this.set({ priority: p }, by[p] ?? 0);
      },
    });
    new Gauge({
      name: 'ccm_sync_operations', help: 'Operations in the outbox not synced yet, by status (failed: dead letters)', labelNames: ['status'], registers: [r],
      collect() {
        const held = local.outbox.heldBack();
        this.set({ status: 'pending' }, local.outbox.pendingTotal());
        this.set({ status: 'failed' }, held.failed);
        this.set({ status: 'conflict' }, held.conflict);
      },
    });
    new Gauge({
      name: 'ccm_sync_connection_state', help: '1 for the current connection state', labelNames: ['state'], registers: [r],
      collect() {
        const cur = local.state.get('connection')?.state ?? 'online';
        for (const s of STATES) this.set({ state: s }, s === cur ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ccm_sync_last_success_timestamp_seconds', help: 'Unix time of the last successful sync', registers: [r],
      collect() {
        const at = local.state.get('last_success')?.at;
        this.set(at ? Date.parse(at) / 1000 : 0);
      },
    });
    this.syncs = new Counter({ name: 'ccm_sync_syncs_total', help: 'Syncs run by this daemon', labelNames: ['trigger', 'result'], registers: [r] });
    this.ops = new Counter({ name: 'ccm_sync_operations_total', help: 'Operations settled by this daemon', labelNames: ['outcome'], registers: [r] });
    this.duration = new Histogram({
      name: 'ccm_sync_duration_seconds', help: 'Duration of syncs', labelNames: ['trigger'], registers: [r],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    });
  }

  observe(result: SyncResult): void {
    this.syncs.inc({ trigger: result.trigger, result: result.status });
    this.duration.observe({ trigger: result.trigger }, result.duration_ms / 1000);
    this.ops.inc({ outcome: 'synced' }, result.operations_synced);
    this.ops.inc({ outcome: 'stale' }, result.operations_stale);
    this.ops.inc({ outcome: 'conflict' }, result.operations_conflict);
    this.ops.inc({ outcome: 'failed' }, result.operations_failed);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
