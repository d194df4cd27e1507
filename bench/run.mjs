// `npm run bench`: every figure as a ratio against a floor measured in the same run, written to
// BENCHMARKS.md together with the command and the machine. Needs the local Postgres.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { benchDaemon } from './daemon.mjs';
import { benchDrain } from './drain.mjs';
import { benchEnqueue } from './enqueue.mjs';
import { scratchDatabase } from './lib.mjs';
import { benchBigHooks, benchEmbedded, benchMillion, benchOfflineHour } from './memory.mjs';
import { benchHistory } from './history.mjs';
import { benchHook } from './hook.mjs';
import { benchFleet } from './fleet.mjs';
import { benchPackaging } from './packaging.mjs';
import { BEFORE as SERVER_BEFORE, benchServer } from './server.mjs';
import { benchTranscripts } from './transcripts.mjs';

const pct = (x) => `${(x * 100).toFixed(1)}%`;
const ms = (x) => `${x.toFixed(0)} ms`;
const log = (s) => process.stderr.write(`bench: ${s}\n`);

const only = process.argv.slice(2);
const want = (name) => only.length === 0 || only.includes(name);
const results = {};
const db = await scratchDatabase();
try {
  if (want('enqueue')) { log('enqueue…'); results.enqueue = await benchEnqueue(); }
  if (want('hook')) { log('Claude Code hook: process, daemon route, spooled backlog…'); results.hook = await benchHook(db); }
  if (want('transcripts')) { log('coding-agent transcripts: 1,000 sessions through the daemon, one of 100 MB…'); results.transcripts = await benchTranscripts(db); }
  if (want('drain')) { log('drain…'); results.drain = await benchDrain(db); }
  if (want('server')) { log('batch_sync server time by batch size (pg_stat_statements)…'); results.server = await benchServer(); }
  if (want('packaging')) { log('packaging…'); results.packaging = await benchPackaging(db); }
  if (want('daemon')) { log('daemon (urgent latency, threshold, burst)…'); results.daemon = await benchDaemon(db); }
  if (want('offline')) { log('one-hour offline backlog…'); results.offline = await benchOfflineHour(db); }
  if (want('history')) { log('status with 1,000,000 synced operations of history…'); results.history = await benchHistory(); }
  if (want('embedded')) { log('daemon memory on the embedded remote and on Postgres…'); results.embedded = await benchEmbedded(db); }
  if (want('bighooks')) { log('2,000 hook events of 100 KB…'); results.bighooks = await benchBigHooks(db); }
  if (want('fleet')) { log(`a fleet of ${process.env.CCM_BENCH_FLEET ?? 100} systems, through postgres and PostgREST (a few minutes)…`); results.fleet = await benchFleet(); }
  if (want('million')) { log('1,000,000-operation drain (a few minutes)…'); results.million = await benchMillion(db); }
} finally {
  await db.drop();
}

const lines = [
  '# Benchmarks',
  '',
  `Produced by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, PostgreSQL on 127.0.0.1.`,
  'Every figure is measured against a floor taken in the same run; timings are wall clock and vary a few percent between runs.',
  '',
];
if (results.enqueue) {
  const e = results.enqueue;
  lines.push('## Enqueue (target: in-process ≥ 50% of raw inserts; one CLI call within 60 ms of bare Node)', '',
    'Floor: raw better-sqlite3 inserts of the same rows into an identical `sync_queue` table (same indexes, WAL, synchronous=FULL, the durability ccm-sync promises: every commit fsynced). 20,000 operations per run; three interleaved rounds of the floor and each table, medians.', '',
    '| mode | table | ccm-sync ops/s | raw inserts ops/s | ratio |', '|---|---|---:|---:|---:|',
    ...e.inProcess.map((r) => `| ${r.mode} | ${r.table} | ${r.ops_per_s.toLocaleString('en')} | ${r.floor_ops_per_s.toLocaleString('en')} | ${pct(r.ratio)} |`),
    '', 'Tables differ in what the same transaction also writes: `supervisory_reports` only the outbox row (its pending count rides on the outbox\'s own id sequence), `tasks` also its `tasks` counter and its local copy, `hook_events` also the full event in `hook_events`. With one operation per transaction the cost is mostly the pages each commit writes to the WAL: 6 for the floor, 6 for `supervisory_reports`, 8 for `tasks`, 8.5 for `hook_events`.', '',
    `One \`ccm-sync enqueue\` process: median ${ms(e.cli.cli_median_ms)} (p95 ${ms(e.cli.cli_p95_ms)}) against \`node -e ''\` median ${ms(e.cli.bare_median_ms)}: **${ms(e.cli.overhead_median_ms)} over bare Node startup** (40 interleaved runs each).`, '');
}
if (results.transcripts) {
  const { thousand: k, big } = results.transcripts;
  lines.push('## Coding-agent transcripts (targets: reading ≥ 50% of a bare reader; a 100 MB transcript in bounded memory)', '',
    `Floor: a bare reader of the same ${k.sessions.toLocaleString('en')} sessions' files (${k.mib} MiB, ${k.responses.toLocaleString('en')} responses of two lines each, 2 KiB tool results between them) in the bench process: each file read whole, split into lines, the usage lines parsed and upserted into an identical table, one transaction per file (WAL, synchronous=FULL): ${ms(k.floor_ms)}.`, '',
    `- \`catchUp\` on the same files (chunked reads, a cursor per file, cost priced per response): ${ms(k.catch_up_ms)}, **${pct(k.ratio)} of the floor**.`,
    `- the same sessions' hook events spooled (a prompt and a Stop each) and their transcripts read by a running daemon, which also records the ${(k.sessions * 2).toLocaleString('en')} events and syncs the closed tasks as they cross the threshold: ${k.daemon_cpu_s.toFixed(2)} s of daemon CPU, ${k.daemon_wall_s.toFixed(1)} s wall clock, peak RSS ${k.peak_rss_mib} MiB.`,
    `- one transcript of ${big.mib} MiB (tool results of 64 KiB, a line of 40 MiB, ${big.responses} responses) read by \`catchUp\` in a process of its own: peak RSS **${big.peak_rss_mib} MiB, ${big.over_idle_mib} MiB over the same process reading nothing** (${big.idle_rss_mib} MiB): it is read in 1 MiB chunks, and a line over 16 MiB is skipped unparsed.`, '');
}
if (results.hook) {
  const h = results.hook;
  lines.push('## Claude Code hooks (targets: one hook process within 15 ms of bare Node; the daemon route p95 ≤ 5 ms)', '',
    `- one \`ccm-sync hook claude\` process (payload on stdin, spooled in the home): median ${ms(h.process.hook_median_ms)} (p95 ${ms(h.process.hook_p95_ms)}) against \`node -e ''\` median ${ms(h.process.bare_median_ms)}: **${ms(h.process.overhead_median_ms)} over bare Node startup** (40 interleaved runs each, the corpus's payloads in turn).`,
    `- the daemon's \`POST /api/hooks/claude\` (an http hook: recorded at once, 204), ${h.route.requests} requests one after another while the daemon syncs the events they add: handling time (the daemon's \`Server-Timing\`) **p50 ${h.route.p50_ms.toFixed(2)} ms, p95 ${h.route.p95_ms.toFixed(2)} ms**; round trip on loopback, client included, p50 ${h.route.round_trip_p50_ms.toFixed(2)} ms, p95 ${h.route.round_trip_p95_ms.toFixed(2)} ms.`,
    `- recording a spooled backlog (the daemon was down): ${h.backlog.events.toLocaleString('en')} events in ${h.backlog.seconds.toFixed(1)} s (${h.backlog.events_per_s.toLocaleString('en')} events/s, 500 per transaction).`, '');
}
if (results.drain) {
  lines.push('## Drain into Postgres (targets: batch 500 ≥ 65%, batch 50 ≥ 45% of a direct upsert)', '',
    'Floor: a direct multi-row `INSERT … ON CONFLICT DO UPDATE` of the same 20,000 rows into the same table, 500 rows per statement. ' +
    'Ledger bound: the same upsert plus one ledger entry per row, in one statement per batch with one parameter per value (no JSON, no answers, no checks). ' +
    'Uploads alone: the drain\'s own batches sent again by another system, one call after another, with no local work (the rate a drain would reach if reading, packaging and settling cost nothing). ' +
    'Client CPU: the drain process\'s CPU time per operation (reading pages, packaging, settling, the driver), which shares the 2 cores with the server.', '',
    '| batch size | ccm-sync ops/s | direct upsert ops/s | ratio | ledger bound | uploads alone | client CPU per op |', '|---:|---:|---:|---:|---:|---:|---:|',
    ...results.drain.map((r) => `| ${r.batch} | ${r.ops_per_s.toLocaleString('en')} | ${r.floor_ops_per_s.toLocaleString('en')} | ${pct(r.ratio)} | ${pct(r.bound_ratio)} | ${pct(r.uploads_only_ratio)} | ${r.client_us_per_op} µs |`), '');
}
if (results.server) {
  const f = (x) => x.toFixed(2);
  lines.push('## batch_sync server time by batch size (pg_stat_statements)', '',
    `Mean server time of one \`batch_sync\` call (pg_stat_statements, top-level \`total_exec_time / calls\`: no network, no client) for new records, for one-column updates of existing ones and for a fleet's mixed batch, on the remote as the migrations leave it and as it was before migration ${SERVER_BEFORE} (\`CCM_BENCH_SERVER_BEFORE\`), in one private Postgres, on one warm connection, asking for compact answers (the older remote ignores it), three interleaved rounds, medians. Floor: a direct multi-row upsert of the same rows into the same table.`, '',
    '| operations | kind | before | now | per operation | floor | now / floor |', '|---:|---|---:|---:|---:|---:|---:|',
    ...results.server.map((r) => `| ${r.n} | ${r.kind} | ${f(r.before_ms)} ms | **${f(r.after_ms)} ms** | ${(r.after_ms / r.n * 1000).toFixed(0)} µs | ${f(r.floor_ms)} ms | ${(r.after_ms / r.floor_ms).toFixed(1)}× |`), '');
}
if (results.packaging) {
  const p = results.packaging;
  lines.push('## Packaging: 20 tasks × 500 hook events + 10 context changes (target: ≥ 95% fewer bytes)', '',
    `- recorded: ${p.recorded_ops.toLocaleString('en')} operations, ${(p.recorded_bytes / 1024).toFixed(0)} KiB as they would go up unpackaged`,
    `- uploaded: ${p.uploaded_ops} operations in ${p.batches} batches, ${(p.uploaded_bytes / 1024).toFixed(0)} KiB`,
    `- **${pct(p.byte_reduction)} fewer bytes, ${pct(p.op_reduction)} fewer operations**`,
    `- packaging throughput: ${p.packaging_ops_per_s.toLocaleString('en')} operations/s (hook-event summaries recomputed from the local table)`, '');
}
if (results.daemon) {
  const d = results.daemon;
  lines.push('## Triggers with the daemon running (targets: urgent p95 < 250 ms; threshold late < 100 ms)', '',
    `- urgent latency, from spawning \`ccm-sync enqueue --priority urgent\` to the row committed in Postgres (LISTEN/NOTIFY), ${d.urgent.samples} samples: **p50 ${ms(d.urgent.p50_ms)}, p95 ${ms(d.urgent.p95_ms)}** (max ${ms(d.urgent.max_ms)}). This includes starting the enqueue process itself; counted from the moment that process has exited (its commit is done), the daemon's part is p50 ${ms(d.urgent.after_exit_p50_ms)}, p95 ${ms(d.urgent.after_exit_p95_ms)}.`,
    `- threshold trigger: from the commit of the 50th pending operation (another connection) to the start of its sync job, ${d.threshold.samples} samples: **p50 ${ms(d.threshold.p50_ms)}, p95 ${ms(d.threshold.p95_ms)}**`,
    `- burst: ${d.burst.operations.toLocaleString('en')} single-operation commits in ${ms(d.burst.record_ms)} crossed the 50-operation threshold ${Math.floor(d.burst.operations / 50)} times and produced **${d.burst.sync_jobs} sync job${d.burst.sync_jobs === 1 ? "" : "s"}** (${Object.entries(d.burst.by_trigger).map(([k, v]) => `${k} ${v}`).join(', ')}); all synced ${ms(d.burst.drained_ms)} after the first commit.`, '');
}
if (results.offline) {
  const o = results.offline;
  lines.push('## Offline backlog', '', `A one-hour simulated outage of a busy workstation (${o.operations.toLocaleString('en')} operations, mostly hook events): **drained in ${o.drain_s.toFixed(1)} s** after the link returned (probe, draining, ${o.uploaded_ops.toLocaleString('en')} uploaded operations).`, '');
}
if (results.embedded) {
  const e = results.embedded;
  lines.push('## The embedded remote (target: daemon peak RSS < 300 MiB)', '',
    'A daemon in a fresh home syncs 5 operations, then drains 20,000 (batches of 500); peak resident memory (VmHWM) of the daemon process, worker thread included. The embedded data directory is created once by a short-lived child process (initdb), outside these figures.', '',
    '| remote | peak after the first 5 | peak after 20,000 | drain time |', '|---|---:|---:|---:|',
    ...['embedded', 'postgres'].map((k) => `| ${k} | ${e[k].first_five_peak_mib} MiB | **${e[k].drain_peak_mib} MiB** | ${e[k].drain_s.toFixed(1)} s |`), '');
}
if (results.fleet?.postgres && results.fleet.pooler && results.fleet.postgrest) { // a partial run (CCM_BENCH_FLEET_PATHS) prints its JSON only
  const f = results.fleet;
  const row = (name, r) => `| ${name} | ${r.operations.toLocaleString('en')} | ${r.seconds.toFixed(1)} s | **${r.ops_per_s.toLocaleString('en')}** | ${pct(r.ops_per_s / (Math.min(r.systems, f.cores) * f.single_ops_per_s))} | ${ms(r.urgent.p50_ms)} / **${ms(r.urgent.p95_ms)}** (${r.urgent.samples}) | ${r.connections_max} | ${r.lock_waits_max} | ${r.check.lost.length} / ${r.check.doubled} |`;
  const ledger = (r) => r.ledger.map((x) => `${x.s} s: ${x.ledger.toLocaleString('en')} ledger rows for ${x.applied.toLocaleString('en')} applied`).join('; ');
  lines.push(`## A fleet: ${f.postgres.systems} systems into one Postgres (targets: ≥ 50% of min(N, cores) × one system; urgent p95 < 500 ms; nothing lost or doubled; a flat ledger)`, '',
    `\`npm run bench fleet\` (\`CCM_BENCH_FLEET\`, \`CCM_BENCH_FLEET_OPS\`): ${f.postgres.systems} systems in 4 processes, each with its own home, SQLite outbox, transport (its own connections, or its own JWT through PostgREST), \`batch_sync\` calls and advisory lock, recording ${f.ops_per_system.toLocaleString('en')} operations in 5 rounds (hook events of one agent task per round, reports, task updates, urgent alerts) and syncing after each. A private Postgres on the same machine (fsync off, max_connections 400, pg_stat_statements). Floor: one system alone with the same workload on the same server, **${f.single_ops_per_s.toLocaleString('en')} ops/s**; with ${f.cores} cores the target is ${f.target_ops_per_s.toLocaleString('en')} ops/s. Urgent latency: a real daemon as one more system, \`ccm-sync enqueue --priority urgent\` spawned every 100 ms during the run, to the row committed on the remote (LISTEN/NOTIFY). Exactly once: every report and alert row present, every task at its last value, every task summary with all its events, and a trigger logging each application of an operation id (none twice).`, '',
    '| path | operations | wall | ops/s | vs min(N, cores) × one | urgent p50 / p95 (samples) | connections (max) | lock waits (max) | lost / doubled |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    row('postgres transport', f.postgres), ...(f.pooler ? [row(`postgres transport through PgBouncer 1.18, transaction mode (pool ${f.pooler.pool_size})`, f.pooler)] : []), row('PostgREST + supabase-js (pool 10)', f.postgrest), '',
    'Connections are client backends on the server, sampled every 500 ms (the sampler\'s own included): through the pooler, the server connections PgBouncer holds.', '',
    `Ledger rows of the fleet's systems, with pruning on (every batch here), against the operations applied so far: postgres ${ledger(f.postgres)}. PostgREST ${ledger(f.postgrest)}.`, '',
    `Server CPU (the Postgres server's processes, from /proc) per 1,000 recorded operations: postgres transport ${f.postgres.server_cpu_ms_per_1000_ops} ms${f.pooler ? `, through PgBouncer ${f.pooler.server_cpu_ms_per_1000_ops} ms` : ''}, PostgREST ${f.postgrest.server_cpu_ms_per_1000_ops} ms (PostgREST's own process not included).`, '',
    'Where the remote spends its time (pg_stat_statements, postgres transport run, nested statements included):', '',
    '| statement | calls | total | mean |', '|---|---:|---:|---:|',
    ...f.postgres.statements.map((x) => `| \`${x.query.replace(/\|/g, '\\|')}…\` | ${x.calls} | ${x.total_ms} ms | ${x.mean_ms} ms |`), '',
    'One `batch_sync` call by size, on the same server idle, one warm connection (round trip included; the inputs of [docs/scale.md](docs/scale.md)):', '',
    '| operations per call | median | per operation |', '|---:|---:|---:|',
    ...f.calls.map((c) => `| ${c.ops} | ${c.median_ms.toFixed(2)} ms | ${c.per_op_ms.toFixed(3)} ms |`), '');
}
if (results.million) {
  const m = results.million;
  lines.push('## 1,000,000 pending operations (target: daemon peak RSS < 200 MB)', '', `Recorded in ${m.record_s.toFixed(1)} s; the daemon drained them in ${m.drain_s.toFixed(1)} s (${m.ops_per_s.toLocaleString('en')} ops/s, batches of 500) with **peak resident memory ${m.peak_rss_mib} MiB** (VmHWM of the daemon process, worker thread included).`, '');
}
if (results.history) {
  const h = results.history;
  const row = (name, k) => `| ${name} | ${h.empty[k].p50_ms.toFixed(2)} ms | ${h.empty[k].p95_ms.toFixed(2)} ms | ${h.full[k].p50_ms.toFixed(2)} ms | **${h.full[k].p95_ms.toFixed(2)} ms** |`;
  lines.push(`## A long history (target: status snapshot p95 ≤ 20 ms with 1,000,000 synced operations)`, '',
    `The outbox holds ${h.history.toLocaleString('en')} synced operations (a week of them) and 20 pending; the floor is the same read on an empty outbox. 200 reads each.`, '',
    '| read | empty p50 | empty p95 | with history p50 | with history p95 |', '|---|---:|---:|---:|---:|',
    row('status snapshot (`sync status`, `/api/sync/status`)', 'status'), row('dashboard model (every second)', 'dashboard'), row('`/metrics`', 'metrics'), '');
}
if (results.bighooks) {
  const b = results.bighooks;
  lines.push('## Big hook events (target: daemon peak RSS < 200 MB)', '',
    `${b.events.toLocaleString('en')} pending hook events of ${(b.event_bytes / 1000).toFixed(0)} KB each (kept whole: \`hooks.max_field_chars\` raised for the test) drained by the daemon in ${b.drain_s.toFixed(1)} s with **peak resident memory ${b.peak_rss_mib} MiB**. Pages are bounded by the bytes of record_data they load, and hook events are summarised by SQLite from the local table: their payloads never enter JavaScript.`, '');
}
const text = lines.join('\n');
if (only.length === 0) writeFileSync(new URL('../BENCHMARKS.md', import.meta.url), `${text}\n`);
process.stdout.write(`${text}\n`);
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
