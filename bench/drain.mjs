// Drain throughput into the local Postgres through the postgres transport, against a direct
// multi-row upsert of the same rows into the same table.
import { openLocal, syncContext } from '../dist/local.js';
import { PostgresTransport } from '../dist/remote/postgres.js';
import { runSync } from '../dist/workers/sync-run.js';
import { OpIds } from '../dist/op-id.js';
import { median, now, scratchEnv } from './lib.mjs';

const N = 20_000;
const row = (i) => ({ title: `task ${i}`, status: 'complete', priority: 'normal', project: 'ccm', description: 'x'.repeat(120) });

const UPSERT = `on conflict (system_id, id) do update set title = excluded.title, status = excluded.status, priority = excluded.priority,
  project = excluded.project, description = excluded.description, updated_at = excluded.updated_at`;

/**
 * N new rows written by `statement(rows)` (the values of `per` rows: a VALUES list and its params),
 * one statement per `per` rows on one connection, as ops/s. Without the trigger that stamps
 * direct edits (it fires for every writer but batch_sync's owner, and these stand for what
 * batch_sync does, not for an edit).
 */
let runs = 0;
async function upsertRate(db, per, extra, statement) {
  const tag = `u${++runs}`; // new rows every run, as a drain's are
  const client = await db.pool.connect();
  await client.query('set session_replication_role = replica');
  const t0 = now();
  for (let i = 0; i < N; i += per) {
    const values = [];
    const params = [];
    for (let j = i; j < i + per; j++) {
      const r = row(j);
      const more = extra(j);
      params.push('bench', `${tag}-${j}`, r.title, r.status, r.priority, r.project, r.description, new Date().toISOString(), ...more.values);
      const b = params.length - 8 - more.values.length;
      values.push(`(${[1, 2, 3, 4, 5, 6, 7].map((k) => `$${b + k}`).join(', ')}, $${b + 8}::timestamptz${more.casts.map((c, k) => `, $${b + 9 + k}::${c}`).join('')})`);
    }
    await client.query(statement(values.join(', ')), params);
  }
  const rate = N / ((now() - t0) / 1000);
  await client.query('reset session_replication_role');
  client.release();
  return rate;
}

/** The floor: a plain multi-row upsert, 500 rows per statement. */
const floor = (db) => upsertRate(db, 500, () => ({ values: [], casts: [] }), (values) =>
  `insert into tasks (system_id, id, title, status, priority, project, description, updated_at) values ${values} ${UPSERT}`);

/**
 * The bound of any batch_sync that keeps one ledger entry per operation: the floor's upsert plus
 * each row's ledger entry (time-ordered op ids, as ccm-sync's), in one statement of `per` rows
 * (nothing parsed from JSON, no answers, no claim check). A drain at batch size `per` cannot beat
 * it by much.
 */
function ledgerBound(db, per) {
  const ids = new OpIds((n) => crypto.getRandomValues(new Uint8Array(n)));
  return upsertRate(db, per, (j) => ({ values: [ids.next(Date.now()), j + 1], casts: ['uuid', 'bigint'] }), (values) =>
    `with v (system_id, id, title, status, priority, project, description, updated_at, op_id, seq) as (values ${values}),
     l as (insert into ccm_sync_ledger (system_id, op_id, table_name, record_id, result, ledger_seq)
           select v.system_id, v.op_id, 'tasks', v.id, 'applied', v.seq from v on conflict (system_id, op_id) do nothing)
     insert into tasks (system_id, id, title, status, priority, project, description, updated_at)
     select system_id, id, title, status, priority, project, description, updated_at from v ${UPSERT}`);
}

/**
 * One drain of N new tasks at `batchSize` through the postgres transport: its rate, the client's
 * CPU time per operation (this process: reading pages, packaging, settling; it shares the 2 cores
 * with the server), and the rate of the same batches sent again by a second system with nothing
 * else to do (prepared batches, one call after another: no local work at all). A drain can
 * overlap its local work with the server's, but not beat that rate.
 */
async function drain(db, batchSize) {
  const env = scratchEnv({ remote: { kind: 'postgres' }, sync: { max_ops_per_request: batchSize, page_size: Math.max(500, batchSize) } }, { CCM_SYNC_DATABASE_URL: db.url });
  const local = openLocal(env.settings);
  for (let i = 0; i < N; i += 1000) {
    local.recorder.record(Array.from({ length: 1000 }, (_, j) => ({ operation: 'INSERT', table_name: 'tasks', record_id: `d${i + j}`, record_data: row(i + j) })));
  }
  const transport = new PostgresTransport({ connectionString: db.url, systemId: env.systemId, timeoutMs: 60_000 });
  const sent = [];
  const recording = {
    kind: transport.kind,
    upload: (batch, signal) => (sent.push(batch), transport.upload(batch, signal)),
    ping: (signal) => transport.ping(signal),
    now: (signal) => transport.now(signal),
    othersVisible: (signal) => transport.othersVisible(signal),
    info: (signal) => transport.info(signal),
    verify: (items) => transport.verify(items),
    close: () => transport.close(),
  };
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const r = await runSync(syncContext(local, env.settings, recording), { trigger: 'drain', reason: 'bench' });
  const ms = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (r.operations_synced !== N) throw new Error(`bench: drained ${r.operations_synced} of ${N}`);
  await transport.close();
  local.close();
  env.cleanup();
  return { rate: N / (ms / 1000), clientUsPerOp: (cpu.user + cpu.system) / N, uploadsOnly: await uploadsOnly(db, sent) };
}

/** The rate of `batches` sent again as another system, one call after another. */
async function uploadsOnly(db, batches) {
  const systemId = `bench-replay-${++runs}`;
  const transport = new PostgresTransport({ connectionString: db.url, systemId, timeoutMs: 60_000 });
  await transport.info();
  const t0 = now();
  for (const b of batches) await transport.upload({ ...b, system_id: systemId });
  const ms = now() - t0;
  await transport.close();
  return N / (ms / 1000);
}

/** Three runs of each, interleaved with the floor, and the medians: the machine has 2 cores. */
export async function benchDrain(db) {
  const floors = [];
  const rates = { 50: [], 500: [] };
  const bounds = { 50: [], 500: [] };
  const clients = { 50: [], 500: [] };
  const replays = { 50: [], 500: [] };
  for (let run = 0; run < 3; run++) {
    await db.query('truncate tasks, ccm_sync_ledger');
    floors.push(await floor(db));
    for (const b of [50, 500]) {
      const d = await drain(db, b);
      rates[b].push(d.rate);
      clients[b].push(d.clientUsPerOp);
      replays[b].push(d.uploadsOnly);
      bounds[b].push(await ledgerBound(db, b));
    }
  }
  const floorRate = median(floors);
  return [50, 500].map((b) => ({
    batch: b, ops_per_s: Math.round(median(rates[b])), floor_ops_per_s: Math.round(floorRate), ratio: median(rates[b]) / floorRate,
    bound_ops_per_s: Math.round(median(bounds[b])), bound_ratio: median(bounds[b]) / floorRate,
    uploads_only_ops_per_s: Math.round(median(replays[b])), uploads_only_ratio: median(replays[b]) / floorRate,
    client_us_per_op: Math.round(median(clients[b])),
  }));
}
