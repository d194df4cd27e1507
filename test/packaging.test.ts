/**
 * Packaging and conflicts on the real stack (postgres transport, real Postgres): hook-event
 * aggregation, per-record coalescing, the byte cap, selective sync, manual review, and a
 * property-based check of last-write-wins.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.ts';
import { type Local } from '../src/local.ts';
import { PostgresTransport } from '../src/remote/postgres.ts';
import { type TestEnv } from './helpers/env.ts';
import { runCli } from './helpers/cli.ts';
import { spineOn, type Spine } from './helpers/spine.ts';
import { pgTest, type TestDatabase } from './helpers/fixtures.ts';

let env: TestEnv;
let local: Local;
let transport: PostgresTransport;
const clock = new ManualClock('2026-06-01T09:00:00.000Z');

const remote = async <T = Record<string, unknown>>(db: TestDatabase, table: string, id: string) =>
  (await db.query(`select * from ${table} where system_id = $1 and id = $2`, [env.systemId, id]))[0] as T | undefined;
const statusOf = (recordId: string) => local.db.prepare('SELECT status, result FROM sync_queue WHERE record_id = ? ORDER BY id').all(recordId) as { status: string; result: string }[];

let spine: Spine;
let sync: Spine['sync'];
pgTest.beforeAll(({ db }) => {
  spine = spineOn(db, { sync: { max_future_seconds: 365 * 86_400 }, conflicts: { manual_tables: ['supervisory_reports', 'contexts'] } }, clock);
  ({ env, local, transport, sync } = spine);
});
afterAll(() => spine.close());

const hook = (id: string, task: string, tool: string, input: unknown, at: string, success = true, response?: string) => ({
  operation: 'INSERT' as const,
  table_name: 'hook_events',
  record_id: id,
  record_data: { task_id: task, session_id: 's1', event_name: 'PostToolUse', tool_name: tool, tool_input: input, tool_response: response ?? 'ok', success, timestamp: at },
});

describe('aggregation', () => {
  pgTest('turns hook events into one exact task summary, and a second batch updates it incrementally', async ({ db }) => {
    local.recorder.record([
      hook('e1', 'T1', 'Bash', { command: 'npm test' }, '2026-06-01T09:00:00.000Z'),
      hook('e2', 'T1', 'Edit', { file_path: 'src/a.ts' }, '2026-06-01T09:01:00.000Z'),
      hook('e3', 'T1', 'Write', { file_path: 'src/b.ts' }, '2026-06-01T09:02:00.000Z'),
      hook('e4', 'T1', 'Read', { file_path: 'README.md' }, '2026-06-01T09:03:00.000Z'),
      hook('e5', 'T1', 'Bash', { command: 'npm run lint' }, '2026-06-01T09:04:00.000Z', false, 'lint failed: 3 errors'),
      hook('e6', 'T1', 'Edit', { file_path: 'src/a.ts' }, '2026-06-01T09:05:00.000Z'),
    ]);
    const r = await sync();
    expect(r).toMatchObject({ operations_in: 6, operations_out: 1, operations_synced: 6 });
    const s1 = await remote<Record<string, unknown>>(db, 'task_summaries', 'T1');
    expect(s1).toMatchObject({
      task_id: 'T1',
      total_events: 6,
      tools_used: { Bash: 2, Edit: 2, Read: 1, Write: 1 },
      files_modified: ['src/a.ts', 'src/b.ts'],
      commands_run: ['npm test', 'npm run lint'],
      error_count: 1,
      errors: [{ event_name: 'PostToolUse', tool_name: 'Bash', message: 'lint failed: 3 errors', timestamp: '2026-06-01T09:04:00.000Z' }],
    });
    expect(Number(s1!.duration_seconds)).toBe(300);
    // Full detail stays local.
    expect((local.db.prepare("SELECT count(*) AS n FROM hook_events WHERE task_id = 'T1'").get() as { n: number }).n).toBe(6);

    clock.advance(60_000);
    local.recorder.record([
      hook('e7', 'T1', 'Bash', { command: 'git commit -m done' }, '2026-06-01T09:10:00.000Z'),
      hook('e8', 'T1', 'Write', { file_path: 'src/c.ts' }, '2026-06-01T09:11:00.000Z'),
    ]);
    await sync();
    const s2 = await remote<Record<string, unknown>>(db, 'task_summaries', 'T1');
    expect(s2).toMatchObject({
      total_events: 8,
      tools_used: { Bash: 3, Edit: 2, Read: 1, Write: 2 },
      files_modified: ['src/a.ts', 'src/b.ts', 'src/c.ts'],
      commands_run: ['npm test', 'npm run lint', 'git commit -m done'],
      error_count: 1,
    });
    expect(Number(s2!.duration_seconds)).toBe(660);
  });
});

describe('coalescing', () => {
  pgTest('collapses operations per record and settles every source operation', async ({ db }) => {
    local.recorder.record([
      { operation: 'UPDATE', table_name: 'tasks', record_id: 'c-1', record_data: { status: 'a' } },
      { operation: 'UPDATE', table_name: 'tasks', record_id: 'c-1', record_data: { title: 'T' } },
      { operation: 'UPDATE', table_name: 'tasks', record_id: 'c-1', record_data: { status: 'c' } },
      { operation: 'INSERT', table_name: 'tasks', record_id: 'c-2', record_data: { title: 'new' } },
      { operation: 'UPDATE', table_name: 'tasks', record_id: 'c-2', record_data: { status: 'open' } },
      { operation: 'INSERT', table_name: 'tasks', record_id: 'c-3', record_data: { title: 'short-lived' } },
      { operation: 'DELETE', table_name: 'tasks', record_id: 'c-3' },
    ]);
    const r = await sync();
    expect(r).toMatchObject({ operations_in: 7, operations_out: 3, operations_synced: 7 });
    expect(await remote(db, 'tasks', 'c-1')).toMatchObject({ status: 'c', title: 'T' });
    expect(await remote(db, 'tasks', 'c-2')).toMatchObject({ title: 'new', status: 'open' });
    expect(await remote(db, 'tasks', 'c-3')).toBeUndefined();
    for (const id of ['c-1', 'c-2', 'c-3']) for (const s of statusOf(id)) expect(s.status).toBe('synced');
    expect(statusOf('c-3').map((s) => s.result)).toEqual(['applied', 'applied']); // one tombstone for both
    // Every source op id is in the remote ledger, so a replay of any of them is a duplicate.
    const ids = (local.db.prepare("SELECT op_id FROM sync_queue WHERE record_id IN ('c-1', 'c-2')").all() as { op_id: string }[]).map((x) => x.op_id);
    expect((await transport.verify(ids.map((op_id) => ({ op_id, seq: 0 })))).missing).toEqual([]);
  });

  pgTest('sends a tombstone when the remote already has the record', async ({ db }) => {
    local.recorder.record([{ operation: 'UPDATE', table_name: 'tasks', record_id: 'c-1', record_data: { status: 'd' } }, { operation: 'DELETE', table_name: 'tasks', record_id: 'c-1' }]);
    await sync();
    expect(await remote(db, 'tasks', 'c-1')).toBeUndefined();
    // An older upsert arriving late cannot resurrect it.
    local.recorder.record([{ operation: 'UPDATE', table_name: 'tasks', record_id: 'c-1', record_data: { status: 'zombie' }, changed_at: '2026-01-01T00:00:00.000Z' }]);
    const r = await sync();
    expect(r.operations_stale).toBe(1);
    expect(await remote(db, 'tasks', 'c-1')).toBeUndefined();
  });
});

describe('request limits', () => {
  it('caps batches by bytes and fails an oversized record locally without blocking the queue', async () => {
    local.recorder.record([
      { operation: 'INSERT', table_name: 'tasks', record_id: 'big', record_data: { description: 'x'.repeat(9000) } },
      ...Array.from({ length: 20 }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: `small-${i}`, record_data: { description: 'y'.repeat(500) } })),
    ]);
    const small = { ...env.settings, sync: { ...env.settings.sync, max_bytes_per_request: 4096 } };
    const r = await sync({}, small);
    expect(r.operations_synced).toBe(20);
    expect(r.operations_failed).toBe(1);
    expect(r.batches).toBeGreaterThanOrEqual(4); // ~700 bytes each: at most 5 per 4 KiB request
    expect(statusOf('big')[0]!.status).toBe('failed');
    const err = (local.db.prepare("SELECT error_message FROM sync_queue WHERE record_id = 'big'").get() as { error_message: string }).error_message;
    expect(err).toMatch(/over the 4096-byte request cap/);
    expect(r.bytes_sent / r.batches).toBeLessThanOrEqual(4096);
  });

  pgTest('sends urgent operations and the first tables ahead of a large hook-event backlog (selective sync)', async ({ db }) => {
    const selective = { ...env.settings, sync: { ...env.settings.sync, selective: { ...env.settings.sync.selective, backlog_operations: 100, first_tables: ['tasks', 'alerts'], hook_events: 'summarise' as const } } };
    local.recorder.record(Array.from({ length: 150 }, (_, i) => hook(`sel-${i}`, `ST${i % 3}`, 'Bash', { command: `echo ${i}` }, '2026-06-01T10:00:00.000Z')));
    local.recorder.record([
      { operation: 'INSERT', table_name: 'contexts', record_id: 'sel-ctx', record_data: { name: 'late context' } },
      { operation: 'INSERT', table_name: 'tasks', record_id: 'sel-task', record_data: { title: 'first' } },
      { operation: 'INSERT', table_name: 'alerts', record_id: 'sel-alert', record_data: { message: 'first too' } },
    ]);
    await sync({ limits: { batchSize: 1 } }, selective);
    const order = (await db.query<{ record_id: string; table_name: string }>("select record_id, table_name from ccm_sync_ledger where system_id = $1 and (record_id like 'sel-%' or record_id like 'ST%') and table_name <> 'hook_events' order by applied_at", [env.systemId]))
      .filter((r, i, all) => all.findIndex((x) => x.record_id === r.record_id) === i)
      .map((r) => r.record_id);
    expect(order.slice(0, 2).sort()).toEqual(['sel-alert', 'sel-task']);
    expect(order.indexOf('sel-ctx')).toBeGreaterThan(1);
    expect(await remote(db, 'task_summaries', 'ST0')).toMatchObject({ total_events: 50 });
  });
});

describe('selective sync after a long offline period', () => {
  pgTest('applies when the job says so (the drain after selective.offline_seconds offline), skipping hook events if configured', async ({ db }) => {
    const skip = { ...env.settings, sync: { ...env.settings.sync, selective: { ...env.settings.sync.selective, first_tables: ['tasks'], hook_events: 'skip' as const } } };
    local.recorder.record([hook('off-ev-1', 'OFF1', 'Bash', { command: 'ls' }, '2026-06-01T11:00:00.000Z'), { operation: 'INSERT', table_name: 'tasks', record_id: 'off-task', record_data: { title: 't' } }]);
    const r = await sync({ limits: { selective: true, batchSize: 1 } }, skip);
    expect(r.operations_synced).toBe(2);
    expect(await remote(db, 'tasks', 'off-task')).toBeDefined();
    expect(await remote(db, 'task_summaries', 'OFF1')).toBeUndefined(); // skipped: detail stays local
    expect(statusOf('off-ev-1')[0]).toEqual({ status: 'synced', result: 'skipped' });
  });
});

describe('conflicts', () => {
  pgTest('holds a manual-review conflict with both versions, and resolves it either way, idempotently', async ({ db }) => {
    const future = '2030-01-01T00:00:00.000Z';
    for (const id of ['rep-1', 'rep-2']) {
      await db.query(`insert into supervisory_reports (system_id, id, summary, updated_at) values ($1, $2, 'edited in Supabase', $3)`, [env.systemId, id, future]);
      local.recorder.record([{ operation: 'UPDATE', table_name: 'supervisory_reports', record_id: id, record_data: { summary: 'local view' } }]);
    }
    const r = await sync();
    expect(r.operations_conflict).toBe(2);
    const listed = await runCli(['conflicts', 'list', '--json'], { env: env.env });
    if (listed.code !== 0) throw new Error(listed.stderr);
    const list = JSON.parse(listed.stdout) as { conflicts: { id: number; record_id: string; local: { data: { summary: string } }; remote: { summary: string } }[] };
    expect(list.conflicts.map((c) => [c.record_id, c.local.data.summary, c.remote.summary])).toEqual([
      ['rep-1', 'local view', 'edited in Supabase'],
      ['rep-2', 'local view', 'edited in Supabase'],
    ]);
    // Which keys of the write the remote does not hold, and the remote record without its bookkeeping.
    expect((list.conflicts as unknown as { differs: string[] }[]).map((c) => c.differs)).toEqual([['summary'], ['summary']]);
    const human = (await runCli(['conflicts', 'list'], { env: env.env })).stdout;
    expect(human).toMatch(/differs in: summary\n/);
    expect(human).not.toMatch(/sync_clock|"versions"/);
    const [c1, c2] = list.conflicts;
    expect((await runCli(['conflicts', 'resolve', String(c1!.id), '--keep', 'local'], { env: env.env })).code).toBe(0);
    expect((await runCli(['conflicts', 'resolve', String(c1!.id), '--keep', 'local', '--json'], { env: env.env })).stdout).toMatch(/"already_resolved": true/);
    expect((await runCli(['conflicts', 'resolve', String(c2!.id), '--keep', 'remote'], { env: env.env })).code).toBe(0);
    expect((await runCli(['conflicts', 'resolve', String(c2!.id), '--keep', 'remote'], { env: env.env })).stdout).toMatch(/already resolved \(kept remote\)/);
    const unknown = await runCli(['conflicts', 'resolve', '999999', '--keep', 'local'], { env: env.env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no conflict with id 999999/);
    await sync();
    expect(await remote(db, 'supervisory_reports', 'rep-1')).toMatchObject({ summary: 'local view' });
    expect(await remote(db, 'supervisory_reports', 'rep-2')).toMatchObject({ summary: 'edited in Supabase' });
    expect(local.review.conflicts()).toEqual([]);
  });

  pgTest('refreshes the local copy of an owned record when last-write-wins keeps the remote', async ({ db }) => {
    await db.query(`insert into tasks (system_id, id, title, updated_at) values ($1, 'own-1', 'remote title', '2030-01-01T00:00:00Z')`, [env.systemId]);
    local.recorder.record([{ operation: 'UPDATE', table_name: 'tasks', record_id: 'own-1', record_data: { title: 'local title' } }]);
    expect((await sync()).operations_stale).toBe(1);
    const copy = local.db.prepare("SELECT data FROM local_records WHERE table_name = 'tasks' AND record_id = 'own-1'").get() as { data: string };
    expect(JSON.parse(copy.data).title).toBe('remote title');
  });
});

describe('last-write-wins, property-based', () => {
  pgTest('ends with the state last-write-wins predicts, for random interleavings, priorities and sync points', async ({ db }) => {
    let run = 0;
    const opArb = fc.record({
      rec: fc.integer({ min: 0, max: 2 }),
      kind: fc.constantFrom('UPDATE', 'DELETE', 'INSERT'),
      t: fc.integer({ min: 0, max: 20 }),
      priority: fc.constantFrom('low', 'normal', 'high', 'urgent'),
      syncAfter: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), fc.integer({ min: 1, max: 4 }), async (ops, batchSize) => {
        run++;
        const expected = new Map<number, { t: number; seq: number; kind: string; value: string }>();
        for (const [i, o] of ops.entries()) {
          const value = `v${run}-${i}`;
          const [opId] = local.recorder.record([{
            operation: o.kind as 'UPDATE',
            table_name: 'tasks',
            record_id: `p${run}-${o.rec}`,
            record_data: o.kind === 'DELETE' ? null : { title: value },
            priority: o.priority as 'low',
            changed_at: new Date(Date.parse('2026-07-01T00:00:00.000Z') + o.t * 1000).toISOString(),
          }]).op_ids;
          const seq = (local.db.prepare('SELECT id FROM sync_queue WHERE op_id = ?').get(opId) as { id: number }).id;
          const cur = expected.get(o.rec);
          if (!cur || o.t > cur.t || (o.t === cur.t && seq > cur.seq)) expected.set(o.rec, { t: o.t, seq, kind: o.kind, value });
          if (o.syncAfter) await sync({ limits: { batchSize } });
        }
        await sync({ limits: { batchSize } });
        for (const [rec, want] of expected) {
          const row = await remote<{ title: string }>(db, 'tasks', `p${run}-${rec}`);
          if (want.kind === 'DELETE') expect(row).toBeUndefined();
          else expect(row?.title).toBe(want.value);
        }
      }),
      { numRuns: Number(process.env.CCM_PROPERTY_RUNS ?? 40) },
    );
  });
});
