/**
 * The spine through the `postgres` transport: record → outbox → package → upload → settle against
 * a real Postgres with the real migration, in-process.
 */
import pg from 'pg';
import { afterAll, describe, expect } from 'vitest';
import { ManualClock } from '../src/clock.ts';
import { syncContext, type Local } from '../src/local.ts';
import { PostgresTransport } from '../src/remote/postgres.ts';
import { runSync } from '../src/workers/sync-run.ts';
import { type TestEnv } from './helpers/env.ts';
import { spineOn, type Spine } from './helpers/spine.ts';
import { pgTest } from './helpers/fixtures.ts';

let env: TestEnv;
let local: Local;
let transport: PostgresTransport;
const clock = new ManualClock('2026-03-01T10:00:00.000Z');

let spine: Spine;
let sync: Spine['sync'];
pgTest.beforeAll(({ db }) => {
  spine = spineOn(db, { conflicts: { manual_tables: ['supervisory_reports'] } }, clock);
  ({ env, local, transport, sync } = spine);
});
afterAll(() => spine.close());

describe('spine on postgres', () => {
  pgTest('uploads mixed priorities in priority order, exactly once, and settles them', async ({ db }) => {
    const { op_ids } = local.recorder.record([
      { operation: 'INSERT', table_name: 'tasks', record_id: 'low-1', record_data: { title: 'low' }, priority: 'low' },
      { operation: 'INSERT', table_name: 'tasks', record_id: 'norm-1', record_data: { title: 'normal' } },
      { operation: 'INSERT', table_name: 'tasks', record_id: 'urg-1', record_data: { title: 'urgent' }, priority: 'urgent' },
      { operation: 'INSERT', table_name: 'tasks', record_id: 'high-1', record_data: { title: 'high' }, priority: 'high' },
    ]);
    clock.advance(1000);
    const result = await sync({ limits: { batchSize: 1 } });
    expect(result).toMatchObject({ status: 'synced', operations_synced: 4, batches: 4 });
    const order = await db.query<{ record_id: string }>('select record_id from ccm_sync_ledger where system_id = $1 order by applied_at', [env.systemId]);
    expect(order.map((r) => r.record_id)).toEqual(['urg-1', 'high-1', 'norm-1', 'low-1']);
    const rows = await db.query<{ id: string; title: string }>('select id, title from tasks where system_id = $1 order by id', [env.systemId]);
    expect(rows).toHaveLength(4);
    const statuses = local.db.prepare('SELECT status, count(*) AS n FROM sync_queue GROUP BY status').all();
    expect(statuses).toEqual([{ status: 'synced', n: 4 }]);
    expect(local.outbox.pendingTotal()).toBe(0);
    const ledger = await db.query<{ n: string }>('select count(*) n from ccm_sync_ledger where op_id = any($1::uuid[])', [op_ids]);
    expect(Number(ledger[0]!.n)).toBe(4);
    expect(local.metrics.recent(1)[0]).toMatchObject({ operations_synced: 4, trigger_type: 'manual', success: 1, batches: 4 });
  });

  pgTest('answers duplicate for a batch uploaded twice and changes nothing the second time', async ({ db }) => {
    const batch = {
      system_id: env.systemId,
      sync_timestamp: new Date().toISOString(),
      operations: [{ op_id: crypto.randomUUID(), operation: 'UPDATE' as const, table: 'tasks', record_id: 'dup-1', data: { title: 'once' }, changed_at: '2026-03-01T10:00:05.000Z', seq: 1 }],
    };
    const first = await transport.upload(batch);
    const before = await db.query('select * from tasks where system_id = $1 and id = $2', [env.systemId, 'dup-1']);
    const second = await transport.upload(batch);
    const after = await db.query('select * from tasks where system_id = $1 and id = $2', [env.systemId, 'dup-1']);
    expect(first[0]!.status).toBe('applied');
    expect(second[0]).toMatchObject({ status: 'duplicate', first_status: 'applied' });
    expect(after).toEqual(before);
  });

  pgTest('carries quotes, backslashes and any text byte for byte', async ({ db }) => {
    const nasty = `it's \\'); drop table tasks; -- \\x00 \\u0000 "q" \u00e9\u4e2d\ud83d\ude00 $$ $x$ E'\\n'`;
    const res = await transport.upload({
      system_id: env.systemId,
      sync_timestamp: new Date().toISOString(),
      operations: [{ op_id: crypto.randomUUID(), operation: 'INSERT', table: 'tasks', record_id: `lit-'\\`, data: { title: nasty, metadata: { nasty } }, changed_at: '2026-03-01T10:00:05.000Z', seq: 1 }],
    });
    expect(res[0]!.status).toBe('applied');
    const [row] = await db.query<{ title: string; metadata: { nasty: string } }>('select title, metadata from tasks where system_id = $1 and id = $2', [env.systemId, `lit-'\\`]);
    expect(row).toEqual({ title: nasty, metadata: { nasty } });
  });

  pgTest('judges two writes to one record in one batch one after the other', async ({ db }) => {
    const op = (title: string, changedAt: string, seq: number) => ({ op_id: crypto.randomUUID(), operation: 'UPDATE' as const, table: 'tasks', record_id: 'twice-1', data: { title }, changed_at: changedAt, seq });
    const upload = (...ops: ReturnType<typeof op>[]) => transport.upload({ system_id: env.systemId, sync_timestamp: new Date().toISOString(), operations: ops });
    expect((await upload(op('remote', '2026-03-01T10:00:05.000Z', 1)))[0]!.status).toBe('applied');
    // Older than the remote, then newer: the first is stale, the second applied (one upsert of both
    // would have let the second through and answered both applied).
    const r = await upload(op('older', '2026-03-01T10:00:03.000Z', 2), op('newer', '2026-03-01T10:00:07.000Z', 3));
    expect(r.map((x) => x.status)).toEqual(['stale', 'applied']);
    expect((await db.query<{ title: string }>('select title from tasks where system_id = $1 and id = $2', [env.systemId, 'twice-1']))[0]!.title).toBe('newer');
  });

  pgTest('merges a record that exists key by key: keys that name no column kept, and an answer shows the record as the batch left it', async ({ db }) => {
    const op = (data: Record<string, unknown>, changedAt: string, seq: number) => ({ op_id: crypto.randomUUID(), operation: 'UPDATE' as const, table: 'tasks', record_id: 'merge-1', data, changed_at: changedAt, seq });
    const upload = (...ops: ReturnType<typeof op>[]) => transport.upload({ system_id: env.systemId, sync_timestamp: new Date().toISOString(), operations: ops });
    await upload(op({ title: 'one', status: 'open', mood: 'calm', notes: 'n1' }, '2026-03-01T10:00:05.000Z', 1));
    // The second write is older than the first for status, newer than the record for title: it is
    // applied, and since it lost a key its answer carries the record after both writes.
    const r = await upload(op({ status: 'doing', mood: 'busy' }, '2026-03-01T10:00:07.000Z', 2), op({ status: 'late', title: 'two' }, '2026-03-01T10:00:06.000Z', 3));
    const after = { title: 'two', status: 'doing', extra: { mood: 'busy', notes: 'n1' } };
    expect(r.map((x) => x.status)).toEqual(['applied', 'applied']);
    expect(r[1]!.remote).toMatchObject(after);
    expect((await db.query('select title, status, extra from tasks where system_id = $1 and id = $2', [env.systemId, 'merge-1']))[0]).toEqual(after);
  });

  pgTest('applies a newer write to a record of a manual-review table, and holds one older than the remote for review', async ({ db }) => {
    const summary = async () => (await db.query<{ summary: string }>("select summary from supervisory_reports where system_id = $1 and id = 'man-1'", [env.systemId]))[0]!.summary;
    const write = (operation: 'INSERT' | 'UPDATE', text: string, at: string) =>
      local.recorder.record([{ operation, table_name: 'supervisory_reports', record_id: 'man-1', record_data: { summary: text }, changed_at: at }]);
    write('INSERT', 'first', '2026-03-01T12:00:00.000Z');
    expect(await sync()).toMatchObject({ operations_synced: 1, operations_conflict: 0 });
    // One write, newer than the record: nothing on the remote changed since, so it is applied.
    write('UPDATE', 'second', '2026-03-01T12:05:00.000Z');
    expect(await sync()).toMatchObject({ operations_synced: 1, operations_conflict: 0 });
    expect(await summary()).toBe('second');
    // Edited on the remote since (now, later than any write here): the next write is older, and waits for a person.
    await db.query("update supervisory_reports set summary = 'edited' where system_id = $1 and id = 'man-1'", [env.systemId]);
    write('UPDATE', 'third', '2026-03-01T12:10:00.000Z');
    expect(await sync()).toMatchObject({ operations_conflict: 1 });
    expect(await summary()).toBe('edited');
    // That sync is the last one status shows, though it synced nothing: it held one for a person.
    expect(local.state.get('last_sync')).toMatchObject({ operations: 0, conflicts: 1 });
  });

  pgTest('keeps the newer write under last-write-wins, in both directions', async ({ db }) => {
    local.recorder.record([{ operation: 'UPDATE', table_name: 'tasks', record_id: 'lww-1', record_data: { status: 'new' }, changed_at: '2026-03-01T12:00:00.000Z' }]);
    await sync();
    local.recorder.record([{ operation: 'UPDATE', table_name: 'tasks', record_id: 'lww-1', record_data: { status: 'old' }, changed_at: '2026-03-01T11:00:00.000Z' }]);
    const r = await sync();
    expect(r.operations_stale).toBe(1);
    expect((await db.query<{ status: string }>('select status from tasks where system_id = $1 and id = $2', [env.systemId, 'lww-1']))[0]!.status).toBe('new');
    // The local copy follows the remote it kept.
    const copy = local.db.prepare("SELECT data FROM local_records WHERE table_name = 'tasks' AND record_id = 'lww-1'").get() as { data: string };
    expect(JSON.parse(copy.data).status).toBe('new');
    local.recorder.record([{ operation: 'UPDATE', table_name: 'tasks', record_id: 'lww-1', record_data: { status: 'newest' }, changed_at: '2026-03-01T13:00:00.000Z' }]);
    await sync();
    expect((await db.query<{ status: string }>('select status from tasks where system_id = $1 and id = $2', [env.systemId, 'lww-1']))[0]!.status).toBe('newest');
  });

  pgTest('dead-letters a permanent rejection at once and retries another with backoff, while the rest of the batch syncs', async ({ db }) => {
    // Real remote refusals: a CHECK constraint (23514, permanent) and a trigger that raises
    // raise_exception (P0001: not known to be permanent, so retried with backoff).
    await db.query("alter table tasks add constraint ccm_test_no_forbidden check (title is distinct from 'forbidden')");
    await db.query(`create function ccm_test_flaky() returns trigger language plpgsql as $$
      begin if new.id = 'flaky-1' then raise exception 'flaky for now'; end if; return new; end $$`);
    await db.query('create trigger ccm_test_flaky before insert on tasks for each row execute function ccm_test_flaky()');
    try {
      local.recorder.record([
        { operation: 'INSERT', table_name: 'tasks', record_id: 'ok-1', record_data: { title: 'fine' } },
        { operation: 'INSERT', table_name: 'tasks', record_id: 'bad-1', record_data: { title: 'forbidden' } },
        { operation: 'INSERT', table_name: 'tasks', record_id: 'flaky-1', record_data: { title: 'later' } },
        { operation: 'INSERT', table_name: 'tasks', record_id: 'ok-2', record_data: { title: 'fine too' } },
      ]);
      const r = await sync();
      expect(r).toMatchObject({ operations_synced: 2, operations_failed: 1, operations_pending_retry: 1, status: 'partial' });
      const row = (id: string) => local.db.prepare('SELECT status, retry_count, error_code, error_message, next_attempt_at FROM sync_queue WHERE record_id = ?').get(id) as { status: string; retry_count: number; error_code: string; error_message: string; next_attempt_at: number | null };
      expect(row('bad-1')).toMatchObject({ status: 'failed', retry_count: 1, error_code: '23514' });
      expect(row('bad-1').error_message).toMatch(/23514.*ccm_test_no_forbidden.*Not retried.*Fix: a constraint/);
      expect(row('flaky-1')).toMatchObject({ status: 'pending', retry_count: 1, error_code: 'P0001' });
      expect(row('flaky-1').next_attempt_at).toBeGreaterThan(clock.now());
      expect(r.held).toMatchObject({ failed: 1, waiting: 1, failed_reasons: [{ code: '23514', count: 1 }], waiting_reasons: [{ code: 'P0001', count: 1 }] });
      for (let i = 0; i < 10; i++) {
        clock.advance(10 * 60_000);
        await sync();
      }
      expect(row('flaky-1')).toMatchObject({ status: 'failed', retry_count: env.settings.sync.retry.operation_max_attempts });
      expect(row('flaky-1').error_message).toMatch(/gave up after 5 attempts.*ccm-sync failed retry/);
      expect(local.review.failedReasons().map((x) => [x.code, x.count])).toEqual([['23514', 1], ['P0001', 1]]);
    } finally {
      await db.query('drop trigger ccm_test_flaky on tasks; drop function ccm_test_flaky(); alter table tasks drop constraint ccm_test_no_forbidden');
    }
  });

  pgTest('rejects alone a record that a unique index of the table refuses, in a batch of 60', async ({ db }) => {
    // A unique index of the table's own (not the ledger's key): the first statement's plain ledger
    // insert must not take its violation for a repeat; the slow path rejects that record alone.
    await db.query("create unique index ccm_test_unique_title on tasks (system_id, title) where title like 'uniq-%'");
    try {
      local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: 'uq-first', record_data: { title: 'uniq-taken' } }]);
      await sync();
      local.recorder.record(Array.from({ length: 60 }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: `uq-${i}`, record_data: { title: i === 30 ? 'uniq-taken' : `uniq-${i}` } })));
      expect(await sync({ limits: { batchSize: 60 } })).toMatchObject({ operations_synced: 59, operations_failed: 1 });
      expect(local.db.prepare("SELECT status, error_code FROM sync_queue WHERE record_id = 'uq-30'").get()).toEqual({ status: 'failed', error_code: '23505' });
      const ledger = await db.query<{ n: string }>("select count(*) n from ccm_sync_ledger where system_id = $1 and record_id like 'uq-%'", [env.systemId]);
      expect(Number(ledger[0]!.n)).toBe(60); // uq-first and the 59 applied: a rejected operation leaves no entry
    } finally {
      await db.query('drop index ccm_test_unique_title');
    }
  });

  pgTest('settles every answered batch and leaves the rest pending when an upload fails mid-drain', async ({ db }) => {
    // A real transient fault: a trigger that raises serialization_failure for one record. batch_sync
    // re-raises transient errors, so the whole third call fails and the run stops there.
    await db.query(`create function ccm_test_fault() returns trigger language plpgsql as $$
      begin if new.id = 'mid-11' then raise exception 'injected' using errcode = '40001'; end if; return new; end $$`);
    await db.query('create trigger ccm_test_fault before insert on tasks for each row execute function ccm_test_fault()');
    const ids = Array.from({ length: 20 }, (_, i) => `mid-${i}`);
    local.recorder.record(ids.map((id) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: id, record_data: { title: id } })));
    await expect(sync({ limits: { batchSize: 5 } })).rejects.toMatchObject({ name: 'RemoteUnavailableError', message: expect.stringMatching(/40001/) });
    const pending = () => (local.db.prepare("SELECT record_id FROM sync_queue WHERE record_id LIKE 'mid-%' AND status = 'pending' ORDER BY id").all() as { record_id: string }[]).map((r) => r.record_id);
    // Batches 1 and 2 were answered and settled; batch 3 failed; batch 4 was packaged, never sent.
    expect(pending()).toEqual(ids.slice(10));
    expect(local.metrics.recent(1)[0]).toMatchObject({ success: 0, operations_synced: 10, batches: 2 });
    await db.query('drop trigger ccm_test_fault on tasks; drop function ccm_test_fault()');
    expect(await sync({ limits: { batchSize: 5 } })).toMatchObject({ status: 'synced', operations_synced: 10 });
    expect(pending()).toEqual([]);
    const ledger = await db.query<{ n: string }>("select count(*) n from ccm_sync_ledger where system_id = $1 and record_id like 'mid-%'", [env.systemId]);
    expect(Number(ledger[0]!.n)).toBe(20);
  });

  pgTest('sends an urgent operation recorded during a drain ahead of the batches already packaged', async ({ db }) => {
    const ids = Array.from({ length: 30 }, (_, i) => `pre-${i}`);
    local.recorder.record(ids.map((id) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: id, record_data: { title: id } })));
    let recorded = false;
    const r = await runSync(
      syncContext(local, env.settings, transport, {
        onProgress: () => {
          if (recorded) return;
          recorded = true; // after the first batch is answered, while the second is uploading
          local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: 'pre-urgent', record_data: { title: 'now' }, priority: 'urgent' }]);
        },
      }),
      { trigger: 'manual', reason: 'test', limits: { batchSize: 5 } },
    );
    expect(r).toMatchObject({ status: 'synced', operations_synced: 31, batches: 7 });
    // Each batch is one transaction, so applied_at numbers the batches: the urgent one went third
    // (the second was already on the wire), not seventh.
    const [urgent] = await db.query<{ batch: string }>(
      `select batch from (select record_id, dense_rank() over (order by applied_at) batch from ccm_sync_ledger
        where system_id = $1 and record_id like 'pre-%') b where record_id = 'pre-urgent'`, [env.systemId]);
    expect(Number(urgent!.batch)).toBe(3);
  });

  pgTest('takes the answer of the batch on the wire and settles it when local work fails meanwhile', async ({ db }) => {
    const ids = Array.from({ length: 20 }, (_, i) => `wire-${i}`);
    local.recorder.record(ids.map((id) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: id, record_data: { title: id } })));
    let calls = 0;
    const run = runSync(
      syncContext(local, env.settings, transport, {
        onProgress: () => {
          // Runs while the second batch is uploading: a failure here must not orphan that upload.
          if (calls++ === 0) throw new Error('progress display broke');
        },
      }),
      { trigger: 'manual', reason: 'test', limits: { batchSize: 5 } },
    );
    await expect(run).rejects.toThrow(/progress display broke/);
    const pending = (local.db.prepare("SELECT record_id FROM sync_queue WHERE record_id LIKE 'wire-%' AND status = 'pending' ORDER BY id").all() as { record_id: string }[]).map((r) => r.record_id);
    expect(pending).toEqual(ids.slice(10));
    const remote = await db.query<{ n: string }>("select count(*) n from tasks where system_id = $1 and id like 'wire-%'", [env.systemId]);
    expect(Number(remote[0]!.n)).toBe(10);
  });

  pgTest('answers duplicate, not a second apply, when the same batch arrives twice at once', async ({ db }) => {
    const op = { op_id: crypto.randomUUID(), operation: 'UPDATE' as const, table: 'tasks', record_id: 'twin-1', data: { title: 'once' }, changed_at: '2026-03-01T10:00:05.000Z', seq: 1, force: true };
    const batch = JSON.stringify({ system_id: env.systemId, sync_timestamp: new Date().toISOString(), operations: [op] });
    // Two sessions as the system, as PostgREST would open them: the first holds its transaction
    // open, the second arrives meanwhile (a client that retried a call the server still ran).
    const [a, b] = [new pg.Client({ connectionString: db.url }), new pg.Client({ connectionString: db.url })];
    await Promise.all([a.connect(), b.connect()]);
    const asSystem = `begin; set local role authenticated; select set_config('request.jwt.claims', '${JSON.stringify({ role: 'authenticated', system_id: env.systemId })}', true)`;
    await a.query(asSystem);
    await b.query(asSystem);
    const first = await a.query<{ r: { status: string }[] }>('select batch_sync($1::jsonb) r', [batch]);
    const second = b.query<{ r: { status: string }[] }>('select batch_sync($1::jsonb) r', [batch]);
    await new Promise((r) => setTimeout(r, 100));
    await a.query('commit');
    const answered = await second;
    await b.query('commit');
    await Promise.all([a.end(), b.end()]);
    expect([first.rows[0]!.r[0]!.status, answered.rows[0]!.r[0]!.status]).toEqual(['applied', 'duplicate']);
    const ledger = await db.query<{ n: string }>('select count(*) n from ccm_sync_ledger where op_id = $1', [op.op_id]);
    expect(Number(ledger[0]!.n)).toBe(1);
  });

  pgTest('calls as the system, under row-level security, and leaves nothing set on the connection', async ({ db }) => {
    const other = new PostgresTransport({ connectionString: db.url, systemId: 'other-system', timeoutMs: 5000 });
    const theirs = { op_id: crypto.randomUUID(), operation: 'INSERT' as const, table: 'tasks', record_id: 'theirs-1', data: { title: 'b' }, changed_at: '2026-03-01T10:00:05.000Z', seq: 1 };
    expect((await other.upload({ system_id: 'other-system', sync_timestamp: new Date().toISOString(), operations: [theirs] }))[0]!.status).toBe('applied');
    // Row-level security hides the other system's ledger: its operation looks missing to us.
    expect((await transport.verify([{ op_id: theirs.op_id, seq: 1e12 }])).missing).toEqual([theirs.op_id]);
    expect((await other.verify([{ op_id: theirs.op_id, seq: 1e12 }])).missing).toEqual([]);
    // The role and claims lived only as long as the call (a transaction-mode pooler may hand the
    // connection to anyone next).
    const pool = (other as unknown as { pool: pg.Pool }).pool;
    const [after] = (await pool.query("select current_user as u, coalesce(current_setting('request.jwt.claims', true), '') as c")).rows;
    expect(after).toEqual({ u: 'postgres', c: '' });
    await other.close();
  });

  pgTest('refuses a batch for another system', async ({ db }) => {
    const other = new PostgresTransport({ connectionString: db.url, systemId: 'someone-else', timeoutMs: 5000 });
    const forged = { system_id: env.systemId, sync_timestamp: new Date().toISOString(), operations: [] };
    await expect(other.upload(forged)).rejects.toMatchObject({ name: 'RemoteRejectedError', message: expect.stringMatching(/someone-else/) });
    await other.close();
  });
});
