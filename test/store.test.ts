/**
 * The local store on real SQLite files: schema upgrades keep every operation and counter, and the
 * pending counters stay equal to the rows through every way a row enters or leaves 'pending'.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openLocal, type Local } from '../src/local.ts';
import { MIGRATIONS } from '../src/store/migrations.ts';
import { makeEnv, type TestEnv } from './helpers/env.ts';

let env: TestEnv;
let local: Local | undefined;
afterEach(() => {
  local?.close();
  local = undefined;
  env.cleanup();
});

/** Pending rows per bucket, counted from the rows themselves. */
function countedFromRows(l: Local): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of l.db.prepare("SELECT buckets FROM sync_queue WHERE status = 'pending'").all() as { buckets: string }[]) {
    out.total = (out.total ?? 0) + 1;
    for (const b of r.buckets ? r.buckets.split(',') : []) out[b] = (out[b] ?? 0) + 1;
  }
  return out;
}

const nonZero = (c: Record<string, number>) => Object.fromEntries(Object.entries(c).filter(([, n]) => n !== 0));

describe('local store', () => {
  it('upgrades a version 2 database without losing an operation, an event or a count', () => {
    env = makeEnv();
    const file = env.settings.paths.db;
    // A database as version 2 of ccm-sync left it: rows, counters and hook events.
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    for (const m of MIGRATIONS.slice(0, 2)) old.exec(m);
    const insert = old.prepare(`INSERT INTO sync_queue (op_id, operation, table_name, record_id, record_data, priority, buckets, changed_at, created_at, status)
      VALUES (?, 'INSERT', ?, ?, '{}', 'normal', ?, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', ?)`);
    insert.run(crypto.randomUUID(), 'tasks', 't1', 'tasks', 'synced');
    insert.run(crypto.randomUUID(), 'tasks', 't2', 'tasks', 'pending');
    insert.run(crypto.randomUUID(), 'hook_events', 'e1', '', 'pending');
    insert.run(crypto.randomUUID(), 'hook_events', 'e2', 'errors', 'pending');
    old.exec(`INSERT INTO pending_counts (bucket, n, recorded) VALUES ('total', 3, 4), ('tasks', 1, 2), ('errors', 1, 1)`);
    old.exec(`INSERT INTO hook_events (event_id, task_id, tool_name, success, timestamp)
      VALUES ('e1', 'task-1', 'Bash', 1, '2026-01-01T00:00:00.000Z'), ('e2', 'task-1', 'Edit', 0, '2026-01-01T00:00:01.000Z')`);
    old.exec(`INSERT INTO local_records (table_name, record_id, data, changed_at) VALUES ('tasks', 't2', '{"title":"kept"}', '2026-01-01T00:00:00.000Z')`);
    old.pragma('user_version = 2');
    old.close();

    local = openLocal(env.settings);
    expect(local.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(local.outbox.activity()).toEqual({ pending: { total: 3, tasks: 1, errors: 1 }, recorded: { total: 4, tasks: 2, errors: 1 } });
    expect(local.db.prepare('SELECT event_id, task_id, success FROM hook_events ORDER BY id').all()).toEqual([
      { event_id: 'e1', task_id: 'task-1', success: 1 },
      { event_id: 'e2', task_id: 'task-1', success: 0 },
    ]);
    expect(local.db.prepare('SELECT table_name, record_id, data FROM local_records').all()).toEqual([{ table_name: 'tasks', record_id: 't2', data: '{"title":"kept"}' }]);
    const plan = local.db.prepare("EXPLAIN QUERY PLAN SELECT count(*) FROM hook_events WHERE task_id = 'task-1'").all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING COVERING INDEX sqlite_autoindex_hook_events/);

    // Counting goes on from where version 2 left it, and a repeated event is kept once.
    local.recorder.record([
      { operation: 'INSERT', table_name: 'hook_events', record_id: 'e1', record_data: { task_id: 'task-1', tool_name: 'Bash' } },
      { operation: 'INSERT', table_name: 'hook_events', record_id: 'e3', record_data: { task_id: 'task-1', tool_name: 'Bash' } },
    ]);
    expect(local.outbox.activity()).toEqual({ pending: { total: 5, tasks: 1, errors: 1 }, recorded: { total: 6, tasks: 2, errors: 1 } });
    expect(local.db.prepare('SELECT count(*) AS n FROM hook_events').get()).toEqual({ n: 3 });
    expect(nonZero(local.outbox.recount())).toEqual(countedFromRows(local));
    expect(local.outbox.activity().pending).toEqual({ total: 5, tasks: 1, errors: 1 });
  });

  it('keeps the pending counters equal to the rows through record, settle, retry, requeue, prune and recount', () => {
    env = makeEnv();
    local = openLocal(env.settings);
    const { outbox, recorder } = local;
    const check = () => expect(nonZero(outbox.counts())).toEqual(countedFromRows(local!));
    recorder.record([
      { operation: 'INSERT', table_name: 'tasks', record_id: 'a', record_data: { title: 'a' } },
      { operation: 'INSERT', table_name: 'alerts', record_id: 'b', record_data: { severity: 'critical', message: 'x' } },
      { operation: 'INSERT', table_name: 'hook_events', record_id: 'c', record_data: { task_id: 'a', success: false } },
      { operation: 'INSERT', table_name: 'contexts', record_id: 'd', record_data: { action: 'registered' } },
      { operation: 'INSERT', table_name: 'supervisory_reports', record_id: 'e', record_data: { status: 'ok' } },
    ]);
    check();
    const rows = outbox.page(Date.now(), 100);
    const [a, b, c, d] = [rows.find((r) => r.record_id === 'a')!, rows.find((r) => r.record_id === 'b')!, rows.find((r) => r.record_id === 'c')!, rows.find((r) => r.record_id === 'd')!];
    const at = new Date().toISOString();
    outbox.settle([
      { kind: 'synced', row: a, result: 'applied' },
      { kind: 'failed', row: b, error: 'no' },
      { kind: 'conflict', row: c, error: 'newer', remote: '{}' },
      { kind: 'retry', row: d, error: 'later', nextAttemptAt: Date.now() + 60_000 },
    ], at);
    check();
    expect(outbox.counts().total).toBe(2);
    expect(local.review.retry([b.id])).toEqual([b.id]);
    check();
    expect(local.review.requeueConflict(c.id, c.buckets, false)).toBe(true);
    check();
    expect(outbox.pruneSynced('9999-01-01T00:00:00.000Z')).toBe(1);
    check();
    // A counter knocked out of step is rebuilt from the rows.
    local.db.exec("UPDATE pending_counts SET n = n + 7 WHERE bucket IN ('total', 'tasks')");
    expect(nonZero(outbox.recount())).toEqual(countedFromRows(local));
    check();
    const before = outbox.activity().recorded;
    recorder.record([{ operation: 'UPDATE', table_name: 'tasks', record_id: 'a', record_data: { title: 'again' } }]);
    check();
    expect(outbox.activity().recorded).toMatchObject({ total: before.total! + 1, tasks: before.tasks! + 1 });
  });

  it('refuses a record with a NUL character, which Postgres cannot store, and queues nothing', () => {
    env = makeEnv();
    local = openLocal(env.settings);
    expect(() => local!.recorder.record([
      { operation: 'INSERT', table_name: 'tasks', record_id: 'fine', record_data: { title: 'ok' } },
      { operation: 'INSERT', table_name: 'tasks', record_id: 'nul', record_data: { title: 'a\u0000b' } },
    ])).toThrow(/operation 2: record_data contains a NUL character/);
    expect(local.outbox.pendingTotal()).toBe(0);
    // The six characters \u0000 as text are fine.
    local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: 'text', record_data: { title: 'a\\u0000b' } }]);
    expect(local.outbox.pendingTotal()).toBe(1);
  });

  it('refuses a database written by a newer ccm-sync instead of writing to it', () => {
    env = makeEnv();
    local = openLocal(env.settings);
    local.db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    local.close();
    local = undefined;
    expect(() => openLocal(env.settings)).toThrow(/schema is version \d+, newer than this ccm-sync knows.*upgrade ccm-sync/);
  });
});
