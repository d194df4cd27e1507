// The daemon with the real local Postgres: urgent latency from a separate `ccm-sync enqueue`
// process to the committed remote row, how late the threshold trigger fires, and how many sync
// jobs a 10,000-operation burst creates.
import { spawn } from 'node:child_process';
import pg from 'pg';
import { openLocal } from '../dist/local.js';
import { CLI, median, now, percentile, scratchEnv, startDaemon, until } from './lib.mjs';

export async function benchDaemon(db) {
  await db.query(`create or replace function bench_notify() returns trigger language plpgsql as $$
    begin perform pg_notify('ccm_bench', new.id); return new; end $$;
    drop trigger if exists bench_notify on tasks;
    create trigger bench_notify after insert on tasks for each row execute function bench_notify();`);
  const env = scratchEnv({ remote: { kind: 'postgres' }, sync: { intervals: { default: 3600 }, thresholds: { max_pending_operations: 50, max_pending_tasks: 1000, max_pending_errors: 1000, max_pending_contexts: 1000 } } }, { CCM_SYNC_DATABASE_URL: db.url });
  const daemon = await startDaemon(env.env);
  const listener = new pg.Client({ connectionString: db.url });
  await listener.connect();
  await listener.query('listen ccm_bench');
  const seen = new Map();
  listener.on('notification', (n) => seen.set(n.payload, now()));
  try {
    // Urgent latency: process spawn to remote commit, one at a time.
    const latency = [];
    const afterExit = [];
    for (let i = 0; i < 200; i++) {
      const id = `urgent-${i}`;
      const t0 = now();
      let exitedAt = 0;
      const child = spawn(process.execPath, [CLI, 'enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', id, '--data', '{"title":"urgent"}', '--priority', 'urgent'], { env: env.env, stdio: 'ignore' });
      const exited = new Promise((r) => child.on('exit', () => r((exitedAt = now()))));
      await until(() => seen.has(id), `urgent ${id}`, 30_000, 1);
      latency.push(seen.get(id) - t0);
      await exited;
      afterExit.push(Math.max(0, seen.get(id) - exitedAt));
    }

    // Threshold lateness: the 50th pending operation, recorded by another connection, to the
    // start of the sync job it triggers.
    const local = openLocal(env.settings);
    const lateness = [];
    for (let round = 0; round < 20; round++) {
      await until(() => local.outbox.pendingTotal() === 0, 'an empty queue', 60_000);
      const before = local.db.prepare('SELECT coalesce(max(id), 0) AS id FROM sync_metrics').get().id;
      for (let i = 0; i < 49; i++) local.recorder.record([{ operation: 'UPDATE', table_name: 'supervisory_reports', record_id: `th-${round}-${i}`, record_data: { summary: 's' }, priority: 'low' }]);
      await new Promise((r) => setTimeout(r, 50));
      local.recorder.record([{ operation: 'UPDATE', table_name: 'supervisory_reports', record_id: `th-${round}-49`, record_data: { summary: 's' }, priority: 'low' }]);
      const t0 = Date.now();
      const row = await until(() => local.db.prepare("SELECT timestamp, duration_ms FROM sync_metrics WHERE id > ? AND trigger_type = 'threshold_total'").get(before), 'the threshold sync', 30_000, 5);
      lateness.push(Date.parse(row.timestamp) - row.duration_ms - t0);
    }

    // Burst: 10,000 single-operation commits as fast as they go.
    await until(() => local.outbox.pendingTotal() === 0, 'an empty queue', 60_000);
    const before = local.db.prepare('SELECT coalesce(max(id), 0) AS id FROM sync_metrics').get().id;
    const t0 = now();
    for (let i = 0; i < 10_000; i++) local.recorder.record([{ operation: 'INSERT', table_name: 'supervisory_reports', record_id: `burst-${i}`, record_data: { summary: 'b' } }]);
    const recordMs = now() - t0;
    await until(() => local.outbox.pendingTotal() === 0, 'the burst to drain', 120_000);
    const drainedMs = now() - t0;
    const jobs = local.db.prepare('SELECT trigger_type, count(*) AS n FROM sync_metrics WHERE id > ? GROUP BY trigger_type').all(before);
    local.close();
    return {
      urgent: { samples: latency.length, p50_ms: median(latency), p95_ms: percentile(latency, 95), max_ms: Math.max(...latency), after_exit_p50_ms: median(afterExit), after_exit_p95_ms: percentile(afterExit, 95) },
      threshold: { samples: lateness.length, p50_ms: median(lateness), p95_ms: percentile(lateness, 95) },
      burst: { operations: 10_000, record_ms: recordMs, drained_ms: drainedMs, sync_jobs: jobs.reduce((a, j) => a + j.n, 0), by_trigger: Object.fromEntries(jobs.map((j) => [j.trigger_type, j.n])) },
    };
  } finally {
    await listener.end();
    await daemon.stop();
    env.cleanup();
  }
}
