// Server time of one batch_sync call by batch size, from pg_stat_statements, for the remote as the
// migrations leave it and as it was before the newest changes to its speed (BEFORE: 20261207120000, maps once;
// CCM_BENCH_SERVER_BEFORE picks another), in one private Postgres, against the floor: a direct
// multi-row upsert of the same rows into the same table.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { BOOTSTRAP_SQL } from '../dist/remote/bootstrap.js';
import { migrationFiles } from '../dist/remote/migrations.js';
import { startPrivatePostgres } from '../test/helpers/private-pg.ts';

const SIZES = [1, 5, 25, 50, 500];
// The "before" side: the remote as it was before this migration (CCM_BENCH_SERVER_BEFORE picks another).
export const BEFORE = process.env.CCM_BENCH_SERVER_BEFORE ?? '20261207120000';
const row = (i) => ({ title: `task ${i}`, status: 'complete', priority: 'normal', project: 'ccm', description: 'x'.repeat(120) });

/** A database migrated up to (not including) `before`, or fully; a session calling as system s1. */
async function database(server, name, before) {
  await server.query(`create database ${name}`);
  const c = new pg.Client({ connectionString: `${server.url.replace(/\/[^/]*$/, '')}/${name}` });
  await c.connect();
  await c.query(BOOTSTRAP_SQL);
  for (const m of migrationFiles().filter((f) => !before || f.version < before)) await c.query(m.sql);
  await c.query(`select set_config('request.jwt.claims', '{"system_id":"s1"}', false)`);
  // The floor is a plain upsert, without the trigger that stamps direct edits, on a connection of its
  // own (changing session_replication_role empties a session's plan cache).
  c.floor = new pg.Client({ connectionString: `${server.url.replace(/\/[^/]*$/, '')}/${name}` });
  await c.floor.connect();
  await c.floor.query('set session_replication_role = replica');
  return c;
}

function operations(n, seq, ids) {
  return Array.from({ length: n }, (_, j) => {
    const s = seq.next++;
    const id = ids ? ids[j] : `r${s}`;
    return { op_id: randomUUID(), operation: ids ? 'UPDATE' : 'INSERT', table: 'tasks', record_id: id, data: ids ? { status: `s${s}` } : row(s), changed_at: new Date().toISOString(), seq: s, ledger_seq: s };
  });
}

/**
 * A fleet's batch (as bench/fleet.mjs records them, packaged): half new reports, a fifth new
 * alerts, a fifth updates of existing tasks, a tenth task summaries rewritten.
 */
function mixed(n, seq, known) {
  return Array.from({ length: n }, (_, j) => {
    const s = seq.next++;
    const k = j % 10;
    const base = { op_id: randomUUID(), changed_at: new Date().toISOString(), seq: s, ledger_seq: s };
    if (k < 5) return { ...base, operation: 'INSERT', table: 'supervisory_reports', record_id: `m${s}`, data: { task_id: `t${j}`, summary: 'x'.repeat(200), status: 'open' } };
    if (k < 7) return { ...base, operation: 'INSERT', table: 'alerts', record_id: `m${s}`, data: { message: `alert ${s}`, severity: 'warning', status: 'open' } };
    if (k < 9) return { ...base, operation: 'UPDATE', table: 'tasks', record_id: known.tasks[j % known.tasks.length], data: { status: `s${s}`, title: `task ${s}` } };
    return { ...base, operation: 'UPDATE', table: 'task_summaries', record_id: known.summaries[j % known.summaries.length], data: { task_id: 't1', total_events: s, tools_used: { Bash: s }, last_event_at: new Date().toISOString() } };
  });
}

function floorStatement(ops) {
  const values = [];
  const params = [];
  for (const o of ops) {
    const r = { ...row(0), ...o.data };
    params.push('floor', `f${o.record_id}`, r.title, r.status, r.priority, r.project, r.description, o.changed_at);
    const b = params.length - 8;
    values.push(`($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8})`);
  }
  return [`insert into tasks (system_id, id, title, status, priority, project, description, updated_at) values ${values.join(', ')}
     on conflict (system_id, id) do update set title = excluded.title, status = excluded.status, updated_at = excluded.updated_at`, params];
}

/** Mean server time of each statement kind in one database, by the size its calls had. */
async function run(server, c, dbname, calls, seq) {
  const out = {};
  for (const n of SIZES) {
    const ids = Array.from({ length: n }, (_, j) => `u${n}-${seq.next}-${j}`);
    await c.query('select batch_sync($1::jsonb)', [JSON.stringify({ system_id: 's1', settled_through: 0, operations: operations(n, seq) .map((o, j) => ({ ...o, record_id: ids[j] })) })]);
    // the tasks and summaries a mixed batch rewrites exist already
    const known = { tasks: ids.map((id) => `${id}-t`), summaries: ids.map((id) => `${id}-s`) };
    await c.query('select batch_sync($1::jsonb)', [JSON.stringify({ system_id: 's1', settled_through: 0, operations: [
      ...known.tasks.map((id) => ({ ...operations(1, seq)[0], record_id: id })),
      ...known.summaries.map((id) => ({ ...operations(1, seq)[0], table: 'task_summaries', record_id: id, data: { task_id: 't1', total_events: 1 } })),
    ] })]);
    const kinds = { insert: null, update: ids, mixed: known };
    for (const [kind, existing] of Object.entries(kinds)) {
      await server.query('select pg_stat_statements_reset()');
      const k = Math.max(30, Math.round(calls / n));
      for (let i = 0; i < k; i++) {
        const ops = kind === 'mixed' ? mixed(n, seq, existing) : operations(n, seq, existing);
        // (compact answers, as today's client asks of a remote that has them; an older one ignores the key)
        await c.query('select batch_sync($1::jsonb)', [JSON.stringify({ system_id: 's1', settled_through: 0, answers: 'compact', operations: ops })]);
        await c.floor.query(...floorStatement(ops));
      }
      const [stats] = await server.query(`
        select (select sum(total_exec_time) / sum(calls) from pg_stat_statements s join pg_database d on d.oid = s.dbid
                 where d.datname = $1 and s.toplevel and s.query like 'select batch_sync%') as call_ms,
               (select sum(total_exec_time) / sum(calls) from pg_stat_statements s join pg_database d on d.oid = s.dbid
                 where d.datname = $1 and s.toplevel and s.query like 'insert into tasks%') as floor_ms`, [dbname]);
      out[`${kind} ${n}`] = { n, kind, call_ms: Number(stats.call_ms), floor_ms: Number(stats.floor_ms) };
    }
  }
  return out;
}

export async function benchServer({ calls = 2000 } = {}) {
  // (track top: counting the statements inside batch_sync too would add their bookkeeping to its time)
  const server = await startPrivatePostgres({ settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'top', ...(process.env.CCM_BENCH_PG_SETTINGS ? JSON.parse(process.env.CCM_BENCH_PG_SETTINGS) : {}) } });
  try {
    await server.query('create extension if not exists pg_stat_statements');
    const before = await database(server, 'before_newest', BEFORE);
    const after = await database(server, 'newest', null);
    try {
      // Interleaved rounds, the medians: the host is shared.
      const rounds = { before: [], after: [] };
      const seq = { next: 1 };  // every operation and record new across the rounds
      for (let r = 0; r < 3; r++) {
        rounds.before.push(await run(server, before, 'before_newest', calls, seq));
        rounds.after.push(await run(server, after, 'newest', calls, seq));
      }
      const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      return Object.keys(rounds.after[0]).map((key) => {
        const pick = (side, f) => median(rounds[side].map((x) => x[key][f]));
        const { n, kind } = rounds.after[0][key];
        return { n, kind, before_ms: pick('before', 'call_ms'), after_ms: pick('after', 'call_ms'), floor_ms: median([...rounds.before, ...rounds.after].map((x) => x[key].floor_ms)) };
      });
    } finally {
      for (const c of [before, after]) {
        await c.floor.end();
        await c.end();
      }
    }
  } finally {
    await server.destroy();
  }
}
