// The daemon draining a very large backlog: peak resident memory for 1,000,000 operations, and
// the drain after a one-hour simulated offline period.
import { readFileSync } from 'node:fs';
import { openLocal } from '../dist/local.js';
import { referenceWorkload } from './packaging.mjs';
import { now, peakRssMiB, scratchEnv, startDaemon, until } from './lib.mjs';

/** Starts the daemon and waits until the outbox is empty: drain time and the daemon's peak RSS. */
async function drainWithPeak(env, local, what, timeoutMs, everyMs) {
  const d0 = now();
  const daemon = await startDaemon(env.env);
  let peak = 0;
  await until(() => {
    peak = Math.max(peak, peakRssMiB(daemon.pid));
    return local.outbox.pendingTotal() === 0;
  }, what, timeoutMs, everyMs);
  const drainS = (now() - d0) / 1000;
  peak = Math.max(peak, peakRssMiB(daemon.pid));
  await daemon.stop();
  return { drainS, peak };
}

export async function benchMillion(db, total = Number(process.env.CCM_BENCH_MILLION ?? 1_000_000)) {
  const env = scratchEnv({ remote: { kind: 'postgres' }, sync: { intervals: { default: 3600 }, max_ops_per_request: 500 } }, { CCM_SYNC_DATABASE_URL: db.url });
  const local = openLocal(env.settings);
  try {
    const t0 = now();
    for (let i = 0; i < total; i += 10_000) {
      local.recorder.record(Array.from({ length: Math.min(10_000, total - i) }, (_, j) => ({ operation: 'INSERT', table_name: 'supervisory_reports', record_id: `m-${i + j}`, record_data: { summary: `backlog item ${i + j}`, status: 'open' } })));
    }
    const recordS = (now() - t0) / 1000;
    const { drainS, peak } = await drainWithPeak(env, local, 'the million to drain', 1_800_000, 500);
    return { operations: total, record_s: recordS, drain_s: drainS, ops_per_s: Math.round(total / drainS), peak_rss_mib: Math.round(peak) };
  } finally {
    local.close();
    env.cleanup();
  }
}

/** One hour of a busy workstation (10 operations a second) recorded during simulated offline. */
export async function benchOfflineHour(db) {
  const env = scratchEnv({ remote: { kind: 'postgres' }, offline: { probe_initial_ms: 100, probe_max_ms: 200 }, sync: { intervals: { default: 3600 } } }, { CCM_SYNC_DATABASE_URL: db.url });
  const daemon = await startDaemon(env.env);
  const local = openLocal(env.settings);
  try {
    const token = readFileSync(env.settings.paths.tokenFile, 'utf8').trim();
    const port = local.state.get('daemon').port;
    const call = (body) => fetch(`http://127.0.0.1:${port}/api/offline`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    await call({ duration_ms: 3_600_000 });
    // 36,000 operations: hook events for 70 tasks of ~500 events (reference workload shape) and their tasks.
    let n = 0;
    for (let round = 0; n < 36_000; round++) {
      const ops = referenceWorkload().map((o) => ({ ...o, record_id: `${round}-${o.record_id}`, record_data: o.record_data.task_id ? { ...o.record_data, task_id: `${round}-${o.record_data.task_id}` } : o.record_data }));
      local.recorder.record(ops.slice(0, 36_000 - n));
      n += Math.min(ops.length, 36_000 - n);
    }
    const t0 = now();
    await call({ duration_ms: null });
    await until(() => local.outbox.pendingTotal() === 0, 'the offline backlog to drain', 600_000, 50);
    const drainS = (now() - t0) / 1000;
    const last = local.metrics.recent(5);
    return { operations: n, drain_s: drainS, uploaded_ops: last.reduce((a, m) => a + m.operations_out, 0) };
  } finally {
    local.close();
    await daemon.stop();
    env.cleanup();
  }
}

/** 2,000 hook events of 100 KB each (a file read's output), drained by the daemon: its peak memory. */
export async function benchBigHooks(db) {
  const env = scratchEnv({ remote: { kind: 'postgres' }, hooks: { max_field_chars: 200_000 }, sync: { intervals: { default: 3600 }, max_ops_per_request: 500 } }, { CCM_SYNC_DATABASE_URL: db.url });
  const local = openLocal(env.settings);
  try {
    const big = 'x'.repeat(100_000);
    for (let i = 0; i < 2000; i += 100) {
      local.recorder.record(Array.from({ length: 100 }, (_, j) => ({
        operation: 'INSERT', table_name: 'hook_events', record_id: `big-${i + j}`,
        record_data: { task_id: `big-task-${(i + j) % 20}`, hook_event_name: 'PostToolUse', tool_name: 'Read', tool_use_id: `t${i + j}`, tool_input: { file_path: '/x' }, tool_response: big },
      })));
    }
    const { drainS, peak } = await drainWithPeak(env, local, 'the big hook events to drain', 600_000, 200);
    return { events: 2000, event_bytes: 100_000, drain_s: drainS, peak_rss_mib: Math.round(peak) };
  } finally {
    local.close();
    env.cleanup();
  }
}

/**
 * The daemon's peak resident memory on the embedded remote (PGlite), beside the same workload on
 * Postgres: a fresh home syncs 5 operations, then drains 20,000. The embedded data directory is
 * created by a short-lived child process (initdb), which this figure does not include.
 */
export async function benchEmbedded(db) {
  const out = {};
  for (const kind of ['embedded', 'postgres']) {
    const env = scratchEnv({ remote: { kind }, sync: { intervals: { default: 3600 }, max_ops_per_request: 500 } }, kind === 'postgres' ? { CCM_SYNC_DATABASE_URL: db.url } : {});
    const local = openLocal(env.settings);
    try {
      const daemon = await startDaemon(env.env);
      let peak = 0;
      const drained = (what) => until(() => {
        peak = Math.max(peak, peakRssMiB(daemon.pid));
        return local.outbox.pendingTotal() === 0;
      }, what, 600_000, 100);
      local.recorder.record(Array.from({ length: 5 }, (_, i) => ({ operation: 'INSERT', table_name: 'tasks', record_id: `first-${i}`, record_data: { title: `first ${i}` }, priority: 'urgent' })));
      await drained('the first five operations');
      const first = Math.round(Math.max(peak, peakRssMiB(daemon.pid)));
      const d0 = now();
      for (let i = 0; i < 20_000; i += 5000) {
        local.recorder.record(Array.from({ length: 5000 }, (_, j) => ({ operation: 'INSERT', table_name: 'supervisory_reports', record_id: `e-${i + j}`, record_data: { summary: `report ${i + j}`, status: 'open' } })));
      }
      await drained('the 20,000-operation drain');
      const drainS = (now() - d0) / 1000;
      peak = Math.max(peak, peakRssMiB(daemon.pid));
      await daemon.stop();
      out[kind] = { first_five_peak_mib: first, drain_peak_mib: Math.round(peak), drain_s: drainS };
    } finally {
      local.close();
      env.cleanup();
    }
  }
  return out;
}
