// What a long history costs: the status snapshot (sync status, /api/sync/status), the dashboard
// model (rebuilt every second) and /metrics, with 1,000,000 synced operations in the outbox, and
// the same reads on a fresh database as the floor. Target: status snapshot p95 ≤ 20 ms.
import { openLocal } from '../dist/local.js';
import { statusSnapshot } from '../dist/monitor/status.js';
import { SyncMetrics } from '../dist/monitor/prometheus.js';
import { buildModel } from '../dist/tui/model.js';
import { now, percentile, scratchEnv } from './lib.mjs';

async function timings(local, settings, runs = 200) {
  const prom = new SyncMetrics(local);
  const measure = async (fn) => {
    const t = [];
    for (let i = 0; i < runs; i++) {
      const t0 = now();
      await fn();
      t.push(now() - t0);
    }
    return { p50_ms: percentile(t, 50), p95_ms: percentile(t, 95) };
  };
  return {
    status: await measure(() => statusSnapshot(local, settings, { byTable: true })),
    dashboard: await measure(() => buildModel(local, settings)),
    metrics: await measure(() => prom.text()),
  };
}

export async function benchHistory(total = Number(process.env.CCM_BENCH_HISTORY ?? 1_000_000)) {
  const env = scratchEnv({});
  const local = openLocal(env.settings);
  try {
    const empty = await timings(local, env.settings);
    const t0 = now();
    for (let i = 0; i < total; i += 10_000) {
      local.recorder.record(Array.from({ length: Math.min(10_000, total - i) }, (_, j) => ({ operation: 'INSERT', table_name: 'tasks', record_id: `h-${i + j}`, record_data: { title: `history ${i + j}`, status: 'complete' } })));
    }
    // As if synced over the last week: the history the retention window keeps.
    local.db.exec(`UPDATE sync_queue SET status = 'synced', result = 'applied', synced_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (id % 7) || ' days')`);
    local.outbox.recount();
    local.recorder.record(Array.from({ length: 20 }, (_, j) => ({ operation: 'UPDATE', table_name: 'tasks', record_id: `p-${j}`, record_data: { status: 'open' } })));
    const buildS = (now() - t0) / 1000;
    const full = await timings(local, env.settings);
    return { history: total, build_s: buildS, empty, full };
  } finally {
    local.close();
    env.cleanup();
  }
}
