/**
 * The remote's plans: every statement batch_sync runs reads the ledger, the rows and the tombstones
 * by their key, whatever the statistics say, on a connection that made its plans while the tables
 * were small and then saw them grow (the first big drain of a project), for new records, for
 * records that exist (the merge), and for repeats (an operation the ledger holds, sent again).
 * auto_explain sends the plan of every nested statement to the test's connection.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect } from 'vitest';
import { pgTest } from './helpers/fixtures.ts';

const SYS = `plans-${randomBytes(4).toString('hex')}`;

describe('batch_sync\'s plans', () => {
  pgTest('reads the ledger, the rows and the tombstones by key, even with plans made while they were small', async ({ db }) => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query(`set role authenticated; select set_config('request.jwt.claims', '${JSON.stringify({ role: 'authenticated', system_id: SYS })}', false)`);
    let seq = 0;
    const call = (n: number, prefix: string, data: (i: number) => Record<string, unknown>) => c.query('select batch_sync($1::jsonb)', [JSON.stringify({
      system_id: SYS,
      sync_timestamp: new Date().toISOString(),
      operations: Array.from({ length: n }, (_, i) => ({ op_id: crypto.randomUUID(), operation: 'UPDATE', table: 'tasks', record_id: `${prefix}-${i}`, data: data(i), changed_at: new Date(Date.parse('2026-03-01T10:00:05.000Z') + ++seq).toISOString(), seq })),
    })]);
    // A session that made its plans while the tables were small (a few single-operation syncs,
    // new records and changes to them)...
    for (let i = 0; i < 8; i++) await call(1, `early-${i}`, () => ({ title: 't' }));
    for (let i = 0; i < 8; i++) await call(1, `early-${i}`, () => ({ status: 'done' }));
    // (statistics that say so, as autovacuum leaves them after a project's first rows)
    await db.query('analyze tasks; analyze ccm_sync_ledger; analyze ccm_tombstones');
    for (let i = 0; i < 8; i++) await call(1, `early-${i}`, () => ({ priority: 'high' }));
    // ...then tables that grew fast and have no statistics yet (the first big drain of a project).
    await db.query(`insert into ccm_sync_ledger (op_id, system_id, table_name, record_id, result)
      select gen_random_uuid(), $1, 'tasks', 'bulk-' || i, 'applied' from generate_series(1, 50000) i`, [SYS]);
    await db.query('alter table tasks disable trigger user');
    await db.query(`insert into tasks (system_id, id, title, sync_version) select $1, 'bulk-' || i, 't', '0' from generate_series(1, 50000) i`, [SYS]);
    await db.query('alter table tasks enable trigger user');
    await db.query(`insert into ccm_tombstones (system_id, table_name, record_id, deleted_at, version)
      select $1, 'tasks', 'gone-' || i, now(), '0' from generate_series(1, 20000) i`, [SYS]);
    const plans: string[] = [];
    c.on('notice', (n) => plans.push(n.message ?? ''));
    // auto_explain sends the plan of every statement inside batch_sync to this client.
    // With each step's row counts (log_analyze, no timing), to find work that grows with the square
    // of the batch.
    await c.query(`reset role; load 'auto_explain'; set auto_explain.log_min_duration = 0; set auto_explain.log_nested_statements = on;
      set auto_explain.log_level = notice; set auto_explain.log_analyze = on; set auto_explain.log_timing = off; set role authenticated`);
    await call(500, 'plan', () => ({ title: 'new' }));  // new records
    await call(500, 'bulk', (i) => ({ title: `changed ${i}` }));  // existing ones: the merge
    // Repeats (an operation the ledger holds, sent again): in a batch of 60, the plain ledger insert
    // fails on the key and the statement runs again with ON CONFLICT; a batch of 5 runs that one at
    // once, with the plan it made while the tables were small.
    const [held] = await db.query<{ op_id: string }>("select op_id from ccm_sync_ledger where system_id = $1 and record_id = 'plan-0'", [SYS]);
    const again = { op_id: held!.op_id, operation: 'UPDATE', table: 'tasks', record_id: 'plan-0', data: { title: 'new' }, changed_at: '2026-03-01T10:00:05.001Z', seq: 1 };
    const repeat = (n: number, prefix: string) => c.query('select batch_sync($1::jsonb) as r', [JSON.stringify({ system_id: SYS, sync_timestamp: new Date().toISOString(),
      operations: [again, ...Array.from({ length: n - 1 }, (_, i) => ({ op_id: crypto.randomUUID(), operation: 'UPDATE', table: 'tasks', record_id: `${prefix}-${i}`, data: { title: 't' }, changed_at: new Date(Date.parse('2026-03-01T10:00:05.000Z') + ++seq).toISOString(), seq }))] })]);
    for (const [n, prefix] of [[500, 'rep500'], [60, 'rep60'], [5, 'rep5']] as const) {
      const r = (await repeat(n, prefix)).rows[0]!.r as { status: string }[];
      expect(r.map((x) => x.status)).toEqual(['duplicate', ...Array(n - 1).fill('applied')]);
    }
    await c.end();
    // No plan reads a whole table, or every row of the system or of its table: each index scan of
    // these tables has the whole key in its condition (the record, or the operation), not only
    // system_id (and table_name).
    const partial = (plan: string) => plan.split('\n').some((line, i, lines) => {
      if (/Seq Scan on (tasks|ccm_sync_ledger|ccm_tombstones)\b/.test(line)) return true;
      const scan = /Index (Only )?Scan (Backward )?using \S+ on (tasks|ccm_sync_ledger|ccm_tombstones)\b/.test(line) ? /Index Cond:/
        : /Bitmap Heap Scan on (tasks|ccm_sync_ledger|ccm_tombstones)\b/.test(line) ? /Recheck Cond:/ : undefined;
      if (!scan) return false;
      // the node's own lines: up to the next node (a line with ->)
      const own = lines.slice(i + 1, i + 6);
      const end = own.findIndex((l) => l.includes('->'));
      const cond = (end < 0 ? own : own.slice(0, end)).find((l) => scan.test(l)) ?? '';
      return !/\b(id|record_id|op_id) = /.test(cond);
    });
    const whole = plans.filter(partial);
    expect(whole, whole.join('\n\n')).toEqual([]);
    // No step runs once per operation over rows that grow with the batch (a nested loop that
    // computes a batch-wide map again for each operation: 250,000 rows for 500 operations). A
    // record's own keys, read once per operation, are fewer than 50 here.
    const squared = plans.filter((p) => [...p.matchAll(/actual rows=(\d+) loops=(\d+)/g)].some((m) => Number(m[1]) >= 50 && Number(m[2]) >= 50));
    expect(squared, squared.join('\n\n')).toEqual([]);
    // Duplicates are found by the ledger's primary key as its entries go in, not by a probe: a
    // plain insert first (a repeat fails it, and the statement runs again with ON CONFLICT).
    expect(plans.some((p) => /CTE claimed\n\s*-> {2}Insert on ccm_sync_ledger l\b[^\n]*\n(?!\s*Conflict Resolution)/.test(p))).toBe(true);
    expect(plans.some((p) => /CTE claimed\n\s*-> {2}Insert on ccm_sync_ledger l\b[^\n]*\n\s*Conflict Resolution: NOTHING/.test(p))).toBe(true);
    // The merge read the existing rows by their key (locked), and wrote them back through it (an
    // upsert that meets the row it locked).
    expect(plans.some((p) => /LockRows[\s\S]*(Index|Recheck) Cond: \(\(system_id = [^\n]*AND \(id = ANY/.test(p))).toBe(true);
    expect(plans.some((p) => /Insert on tasks[^\n]*\n\s*Conflict Resolution: UPDATE\n\s*Conflict Arbiter Indexes: tasks_pkey/.test(p))).toBe(true);
    const rows = await db.query<{ n: string }>("select count(*) n from tasks where system_id = $1 and title like 'changed %'", [SYS]);
    expect(Number(rows[0]!.n)).toBe(500);
  });

});
