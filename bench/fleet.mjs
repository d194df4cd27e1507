// `npm run bench fleet`: N systems (default 100, CCM_BENCH_FLEET) syncing at once into one Postgres,
// first through the postgres transport, then through PostgREST with supabase-js, against a single
// system's rate measured in the same run on the same server. A private Postgres (max_connections
// 400, pg_stat_statements) so the fleet's connections and statements can be counted.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { APPLY_LOG_SQL, checkFleet, runFleet } from '../test/helpers/fleet.ts';
import { anonKey, JWT_SECRET, systemToken } from '../test/helpers/jwt.ts';
import { startPgBouncer } from '../test/helpers/pgbouncer.ts';
import { startPostgrest } from '../test/helpers/postgrest.ts';
import { startPrivatePostgres } from '../test/helpers/private-pg.ts';
import { CLI, median, now, percentile, scratchEnv, startDaemon } from './lib.mjs';

const N = Number(process.env.CCM_BENCH_FLEET ?? 100);
const OPS = Number(process.env.CCM_BENCH_FLEET_OPS ?? 1000);
const POOLER_POOL = 10;
// CCM_BENCH_FLEET_BEFORE=<version>: the remote as it was before that migration (a before/after
// comparison of the SQL with the same client); CCM_BENCH_FLEET_PATHS=postgres,pooler,postgrest.
const BEFORE = process.env.CCM_BENCH_FLEET_BEFORE;
const PATHS = new Set((process.env.CCM_BENCH_FLEET_PATHS ?? 'postgres,pooler,postgrest').split(','));

/** Connections, ledger rows and lock waits on the server, sampled while the fleet runs. */
function sampler(server, label) {
  const series = [];
  const t0 = now();
  return {
    series,
    async sample() {
      const [row] = await server.query(`select
        (select count(*) from pg_stat_activity where backend_type = 'client backend') as connections,
        (select count(*) from pg_stat_activity where wait_event_type = 'Lock') as lock_waits,
        (select count(*) from public.ccm_sync_ledger where system_id like $1) as ledger,
        (select count(*) from public.fleet_apply_log where system_id like $1) as applied`, [`${label}-%`]);
      series.push({ s: (now() - t0) / 1000, connections: Number(row.connections), lock_waits: Number(row.lock_waits), ledger: Number(row.ledger), applied: Number(row.applied) });
    },
  };
}

/** A real daemon as one more system: urgent operations spawned while the fleet is busy, to the remote commit. */
async function urgentProbe(server, remoteEnv, remote) {
  await server.query(`create or replace function public.bench_urgent() returns trigger language plpgsql as $$
      begin perform pg_notify('ccm_urgent', new.id); return new; end $$;
    drop trigger if exists bench_urgent on public.tasks;
    create trigger bench_urgent after insert on public.tasks for each row when (new.id like 'urgent-%') execute function public.bench_urgent();`);
  const env = scratchEnv({ remote: { kind: remote }, sync: { intervals: { default: 3600 } } }, remoteEnv);
  if (remote === 'supabase') env.env.CCM_SYNC_ACCESS_TOKEN = await systemToken(env.systemId);
  const daemon = await startDaemon(env.env);
  const listener = new pg.Client({ connectionString: server.url });
  await listener.connect();
  await listener.query('listen ccm_urgent');
  const seen = new Map();
  listener.on('notification', (n) => seen.set(n.payload, now()));
  const latency = [];
  const daemonPart = [];
  let running = true;
  let i = 0;
  const loop = (async () => {
    while (running) {
      const id = `urgent-${remote}-${i++}`;
      const t0 = now();
      let exitedAt = 0;
      const child = spawn(process.execPath, [CLI, 'enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', id, '--data', '{"title":"urgent"}', '--priority', 'urgent'], { env: env.env, stdio: 'ignore' });
      const exited = new Promise((r) => child.on('exit', () => r((exitedAt = now()))));
      const end = Date.now() + 30_000;
      while (!seen.has(id) && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
      await exited;
      if (seen.has(id)) {
        latency.push(seen.get(id) - t0);
        daemonPart.push(Math.max(0, seen.get(id) - exitedAt));
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await listener.end();
      await daemon.stop();
      env.cleanup();
      return { samples: latency.length, p50_ms: median(latency), p95_ms: percentile(latency, 95), max_ms: Math.max(...latency), daemon_p50_ms: median(daemonPart), daemon_p95_ms: percentile(daemonPart, 95) };
    },
  };
}

/**
 * CPU time of the whole server so far, in ms: the postmaster and its exited children (cutime,
 * cstime: every backend that has ended) plus its live children.
 */
function serverCpuMs(server) {
  const tick = 10; // USER_HZ 100
  const stat = (pid) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const pm = Number(readFileSync(path.join(server.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const own = stat(pm);
  let ms = (Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14])) * tick;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = stat(d);
      if (Number(f[1]) === pm) ms += (Number(f[11]) + Number(f[12])) * tick;
    } catch {
      // gone meanwhile: its time is in the postmaster's cutime now
    }
  }
  return ms;
}

async function fleetRun(server, remote, label) {
  const s = sampler(server, label);
  const cpu0 = serverCpuMs(server);
  await server.query('select pg_stat_statements_reset()');
  const probe = await urgentProbe(server, remote.kind === 'postgres' ? { CCM_SYNC_DATABASE_URL: remote.url } : { SUPABASE_URL: remote.url, SUPABASE_PUBLISHABLE_KEY: remote.anonKey }, remote.kind);
  const run = await runFleet({ systems: N, opsPerSystem: OPS, remote, processes: 4, prefix: label, nice: true, sample: () => s.sample(), sampleMs: 500 });
  const urgent = await probe.stop();
  const serverCpu = serverCpuMs(server) - cpu0;
  const check = await checkFleet(server.query, run.systems);
  const statements = await server.query(`select left(regexp_replace(query, '\\s+', ' ', 'g'), 90) as query, calls, round(total_exec_time)::int as total_ms, round(mean_exec_time::numeric, 2) as mean_ms
    from pg_stat_statements where query not like '%pg_stat%' order by total_exec_time desc limit 4`);
  run.cleanup();
  return {
    systems: N, operations: run.operations, seconds: run.seconds, ops_per_s: Math.round(run.ops_per_s), urgent, check,
    connections_max: Math.max(...s.series.map((x) => x.connections)), lock_waits_max: Math.max(...s.series.map((x) => x.lock_waits)),
    ledger: s.series.filter((_, i, a) => i % Math.max(1, Math.floor(a.length / 6)) === 0 || i === a.length - 1).map((x) => ({ s: Math.round(x.s), ledger: x.ledger, applied: x.applied })),
    statements, server_cpu_ms_per_1000_ops: Math.round((serverCpu / run.operations) * 1000),
  };
}

/** What one batch_sync call costs, by size: one warm connection, an idle server (docs/scale.md's inputs). */
async function callCost(server) {
  const { PostgresTransport } = await import('../dist/remote/postgres.js');
  const t = new PostgresTransport({ connectionString: server.url, systemId: 'cost-probe', timeoutMs: 60_000 });
  let seq = 0;
  const batch = (n) => ({ system_id: 'cost-probe', sync_timestamp: new Date().toISOString(), settled_through: seq, operations: Array.from({ length: n }, () => {
    seq++;
    return { op_id: crypto.randomUUID(), operation: 'INSERT', table: 'supervisory_reports', record_id: `c${seq}`, data: { summary: 'x'.repeat(200), status: 'open' }, changed_at: new Date().toISOString(), seq, ledger_seq: seq };
  }) });
  const out = [];
  try {
    for (const n of [1, 5, 50, 500]) {
      for (let i = 0; i < 20; i++) await t.upload(batch(n));
      const times = [];
      for (let i = 0; i < 100; i++) {
        const t0 = now();
        await t.upload(batch(n));
        times.push(now() - t0);
      }
      out.push({ ops: n, median_ms: median(times), per_op_ms: median(times) / n });
    }
  } finally {
    await t.close();
  }
  return out;
}

/** Supabase's dedicated pooler: PgBouncer in transaction mode, a pool of POOLER_POOL server connections. */
async function poolerRun(server) {
  const bouncer = await startPgBouncer({ poolSize: POOLER_POOL, maxClientConn: 1000, pgPort: server.port });
  try {
    return { ...(await fleetRun(server, { kind: 'postgres', url: bouncer.url('postgres') }, 'pool')), pool_size: POOLER_POOL };
  } finally {
    await bouncer.close();
  }
}

/** Supabase's Data API: PostgREST, each system with its own JWT, through supabase-js. */
async function postgrestRun(server) {
  const api = await startPostgrest({ name: 'postgres', query: server.query }, { pgPort: server.port, pool: 10 });
  try {
    return await fleetRun(server, { kind: 'supabase', url: api.url, anonKey: await anonKey(), jwtSecret: JWT_SECRET }, 'rest');
  } finally {
    await api.close();
  }
}

export async function benchFleet() {
  const server = await startPrivatePostgres({ settings: { max_connections: '400', shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' }, migrateBefore: BEFORE });
  try {
    await server.query('create extension if not exists pg_stat_statements');
    await server.query(APPLY_LOG_SQL);
    // One system alone, the floor: its second run, on a server whose caches the first one warmed
    // (the first run after a server starts is up to a fifth slower, which would flatter the fleet).
    (await runFleet({ systems: 1, opsPerSystem: OPS, remote: { kind: 'postgres', url: server.url }, processes: 1, prefix: 'warmup' })).cleanup();
    const single = await runFleet({ systems: 1, opsPerSystem: OPS, remote: { kind: 'postgres', url: server.url }, processes: 1, prefix: 'single' });
    single.cleanup();
    const viaPostgres = PATHS.has('postgres') ? await fleetRun(server, { kind: 'postgres', url: server.url }, 'pg') : undefined;
    const viaPooler = PATHS.has('pooler') ? await poolerRun(server) : undefined;
    const viaPostgrest = PATHS.has('postgrest') ? await postgrestRun(server) : undefined;
    const calls = await callCost(server);
    const cores = os.cpus().length;
    return { sql: BEFORE ? `before ${BEFORE}` : 'as migrated', cores, single_ops_per_s: Math.round(single.ops_per_s), target_ops_per_s: Math.round(0.5 * Math.min(N, cores) * single.ops_per_s), postgres: viaPostgres, pooler: viaPooler, postgrest: viaPostgrest, ops_per_system: OPS, calls };
  } finally {
    // Some client of this process is still connected when the server stops (not found yet; see the
    // closing note of issue 22): its "Connection terminated" at shutdown is not the bench's failure.
    const atShutdown = (err) => {
      if (!/Connection terminated unexpectedly/.test(err?.message ?? '')) throw err;
    };
    process.on('uncaughtException', atShutdown);
    await server.destroy();
    setTimeout(() => process.off('uncaughtException', atShutdown), 2000).unref();
  }
}
