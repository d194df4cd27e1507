// Drain throughput into the local Postgres through the postgres transport, against a direct
// multi-row upsert of the same rows into the same table.
import { openLocal, syncContext } from '../dist/local.js';
import { PostgresTransport } from '../dist/remote/postgres.js';
import { runSync } from '../dist/workers/sync-run.js';
import { OpIds } from '../dist/op-id.js';
import { median, now, scratchEnv } from './lib.mjs';

const N = 20_000;
const row = (i) => ({ title: `task ${i}`, status: 'complete', priority: 'normal', project: 'ccm', description: 'x'.repeat(120) });

/**
 * The bound of any batch_sync that keeps one ledger entry per operation: the floor's upsert plus
 * each row's ledger entry, in one statement of `per` rows (nothing parsed from JSON, no answers,
 * no claim check). A drain at batch size `per` cannot beat it by much.
 */
async function ledgerBound(db, per) {
  const ids = new OpIds((n) => crypto.getRandomValues(new Uint8Array(n))); // time-ordered, as ccm-sync's
  const client = await db.pool.connect();
  await client.query('set session_replication_role = replica');
  const t0 = now();
  for (let i = 0; i < N; i += per) {
    const values = [];
    const params = [];
    for (let j = i; j < i + per; j++) {
      const r = row(j);
      params.push('bound', `b${j}`, r.title, r.status, r.priority, r.project, r.description, new Date().toISOString(), ids.next(Date.now()), j + 1);
      const b = params.length - 10;
      values.push(`($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}::timestamptz, $${b + 9}::uuid, $${b + 10}::bigint)`);
    }
    await client.query(
      `with v (system_id, id, title, status, priority, project, description, updated_at, op_id, seq) as (values ${values.join(', ')}),
       l as (insert into ccm_sync_ledger (system_id, op_id, table_name, record_id, result, ledger_seq)
             select v.system_id, v.op_id, 'tasks', v.id, 'applied', v.seq from v on conflict (system_id, op_id) do nothing)
       insert into tasks (system_id, id, title, status, priority, project, description, updated_at)
       select system_id, id, title, status, priority, project, description, updated_at from v
       on conflict (system_id, id) do update set title = excluded.title, status = excluded.status, priority = excluded.priority,
         project = excluded.project, description = excluded.description, updated_at = excluded.updated_at`,
      params,
    );
  }
  const rate = N / ((now() - t0) / 1000);
  await client.query('reset session_replication_role');
  client.release();
  return rate;
}

async function floor(db) {
  // The floor is a plain upsert: without the trigger that stamps direct edits (it fires for every
  // writer but batch_sync's owner, and the floor stands for what batch_sync does, not for an edit).
  const client = await db.pool.connect();
  await client.query('set session_replication_role = replica');
  const t0 = now();
  for (let i = 0; i < N; i += 500) {
    const values = [];
    const params = [];
    for (let j = i; j < i + 500; j++) {
      const r = row(j);
      params.push('floor', `f${j}`, r.title, r.status, r.priority, r.project, r.description, new Date().toISOString());
      const b = params.length - 8;
      values.push(`($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8})`);
    }
    await client.query(
      `insert into tasks (system_id, id, title, status, priority, project, description, updated_at) values ${values.join(', ')}
       on conflict (system_id, id) do update set title = excluded.title, status = excluded.status, priority = excluded.priority,
         project = excluded.project, description = excluded.description, updated_at = excluded.updated_at`,
      params,
    );
  }
  const rate = N / ((now() - t0) / 1000);
  await client.query('reset session_replication_role');
  client.release();
  return rate;
}

async function drain(db, batchSize) {
  const env = scratchEnv({ remote: { kind: 'postgres' }, sync: { max_ops_per_request: batchSize, page_size: Math.max(500, batchSize) } }, { CCM_SYNC_DATABASE_URL: db.url });
  const local = openLocal(env.settings);
  for (let i = 0; i < N; i += 1000) {
    local.recorder.record(Array.from({ length: 1000 }, (_, j) => ({ operation: 'INSERT', table_name: 'tasks', record_id: `d${i + j}`, record_data: row(i + j) })));
  }
  const transport = new PostgresTransport({ connectionString: db.url, systemId: env.systemId, timeoutMs: 60_000 });
  const t0 = now();
  const r = await runSync(syncContext(local, env.settings, transport), { trigger: 'drain', reason: 'bench' });
  const ms = now() - t0;
  if (r.operations_synced !== N) throw new Error(`bench: drained ${r.operations_synced} of ${N}`);
  await transport.close();
  local.close();
  env.cleanup();
  return N / (ms / 1000);
}

/** Three runs of each, interleaved with the floor, and the medians: the machine has 2 cores. */
export async function benchDrain(db) {
  const floors = [];
  const rates = { 50: [], 500: [] };
  const bounds = { 50: [], 500: [] };
  for (let run = 0; run < 3; run++) {
    await db.query('truncate tasks, ccm_sync_ledger');
    floors.push(await floor(db));
    for (const b of [50, 500]) {
      rates[b].push(await drain(db, b));
      bounds[b].push(await ledgerBound(db, b));
    }
  }
  const floorRate = median(floors);
  return [50, 500].map((b) => ({
    batch: b, ops_per_s: Math.round(median(rates[b])), floor_ops_per_s: Math.round(floorRate), ratio: median(rates[b]) / floorRate,
    bound_ops_per_s: Math.round(median(bounds[b])), bound_ratio: median(bounds[b]) / floorRate,
  }));
}
