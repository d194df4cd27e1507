// Enqueue cost: in-process record() against raw better-sqlite3 inserts into an identical
// sync_queue table, and one `ccm-sync enqueue` process against bare `node -e ''`.
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import path from 'node:path';
import { openLocal } from '../dist/local.js';
import { MIGRATIONS } from '../dist/store/migrations.js';
import { CLI, median, now, percentile, scratchEnv } from './lib.mjs';

const N = 20_000;

function rawFloor(file, batch) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(MIGRATIONS[0]);
  db.exec('DROP INDEX idx_sync_queue_pending'); // as migration 8 drops it: the floor keeps the outbox's indexes
  const ins = db.prepare(`INSERT INTO sync_queue (op_id, operation, table_name, record_id, record_data, priority, buckets, changed_at, created_at)
    VALUES (?, 'UPDATE', ?, ?, ?, 'normal', '', ?, ?)`);
  const many = db.transaction((rows) => { for (const r of rows) ins.run(...r); });
  const t0 = now();
  for (let i = 0; i < N; i += batch) {
    const rows = [];
    for (let j = i; j < Math.min(N, i + batch); j++) {
      const ts = new Date().toISOString();
      rows.push([`00000000-0000-4000-8000-${String(j).padStart(12, '0')}`, 'supervisory_reports', `r${j}`, JSON.stringify({ status: 'complete', summary: `report ${j}` }), ts, ts]);
    }
    if (batch === 1) ins.run(...rows[0]);
    else many(rows);
  }
  const ms = now() - t0;
  db.close();
  return N / (ms / 1000);
}

function ours(settings, table, batch) {
  const local = openLocal(settings);
  const t0 = now();
  for (let i = 0; i < N; i += batch) {
    const ops = [];
    for (let j = i; j < Math.min(N, i + batch); j++) {
      ops.push(table === 'hook_events'
        ? { operation: 'INSERT', table_name: 'hook_events', record_id: `e${j}`, record_data: { task_id: `t${j % 20}`, tool_name: 'Bash', tool_input: { command: 'ls' }, success: true } }
        : { operation: 'UPDATE', table_name: table, record_id: `r${j}`, record_data: { status: 'complete', summary: `report ${j}` } });
    }
    local.recorder.record(ops);
  }
  const ms = now() - t0;
  local.close();
  return N / (ms / 1000);
}

/**
 * Three rounds, each the floor and then every table, and the median of each: the machine has two
 * cores and its speed drifts, so one run of each would compare different moments.
 */
export async function benchEnqueue() {
  const rows = [];
  const tables = ['supervisory_reports', 'tasks', 'hook_events'];
  for (const batch of [1, 1000]) {
    const floors = [];
    const rates = Object.fromEntries(tables.map((t) => [t, []]));
    for (let round = 0; round < 3; round++) {
      const env = scratchEnv({});
      try {
        floors.push(rawFloor(path.join(env.dir, 'raw.db'), batch));
        for (const table of tables) {
          const e = scratchEnv({});
          rates[table].push(ours(e.settings, table, batch));
          e.cleanup();
        }
      } finally {
        env.cleanup();
      }
    }
    const floor = median(floors);
    for (const table of tables) {
      const rate = median(rates[table]);
      rows.push({ mode: batch === 1 ? 'one op per transaction' : '1,000 ops per transaction', table, ops_per_s: Math.round(rate), floor_ops_per_s: Math.round(floor), ratio: rate / floor });
    }
  }

  // One CLI process, against bare node startup. Interleaved so machine noise hits both alike.
  const env = scratchEnv({});
  const bare = [];
  const cli = [];
  const time = (args) => {
    const t0 = now();
    const r = spawnSync(process.execPath, args, { env: env.env });
    if (r.status !== 0) throw new Error(`bench: ${args.join(' ')} failed: ${r.stderr}`);
    return now() - t0;
  };
  time([CLI, 'enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', 'warm', '--data', '{}']); // compile cache, config cache
  for (let i = 0; i < 40; i++) {
    bare.push(time(['-e', '']));
    cli.push(time([CLI, 'enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', String(i), '--data', '{"status":"complete"}']));
  }
  env.cleanup();
  return {
    inProcess: rows,
    cli: { bare_median_ms: median(bare), cli_median_ms: median(cli), cli_p95_ms: percentile(cli, 95), overhead_median_ms: median(cli) - median(bare) },
  };
}
