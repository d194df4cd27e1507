/**
 * batch_sync's answers: a remote of schema 5 answers compactly when asked (a result only for the
 * operations that were not simply applied), the client expands that to one result per operation,
 * and an answer that does not add up, compact or not, settles nothing: every operation stays
 * pending and the sync says why. Against a real Postgres: the real batch_sync, and one replaced by
 * a function that answers wrongly (as a remote with a hand-edited or half-applied migration would).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { remoteChecks } from '../src/monitor/doctor-remote.ts';
import { readTaskSummaries } from '../src/remote/report.ts';
import { checkResults } from '../src/remote/answers.ts';
import { BOOTSTRAP_SQL } from '../src/remote/bootstrap.ts';
import { migrationFiles } from '../src/remote/migrations.ts';
import { spineOn, type Spine } from './helpers/spine.ts';
import { pgTest } from './helpers/fixtures.ts';
import { createTestDatabase } from './helpers/pg.ts';
import type { Batch, WireOperation } from '../src/types.ts';

const op = (i: number): WireOperation => ({
  op_id: `00000000-0000-7000-8000-00000000000${i}`, operation: 'INSERT', table: 'tasks', record_id: `r${i}`, data: {}, changed_at: '2026-05-01T10:00:00.000Z', seq: i,
});
const batch = (n: number, compact = true): Batch => ({
  system_id: 's', sync_timestamp: '2026-05-01T10:00:00.000Z', operations: Array.from({ length: n }, (_, i) => op(i + 1)), ...(compact ? { answers: 'compact' as const } : {}),
});

describe('a compact answer', () => {
  it('becomes one result per operation: those it lists, and applied for the rest', () => {
    const stale = { op_id: op(2).op_id, status: 'stale', remote: { title: 'kept' } };
    expect(checkResults('postgres', batch(3), { applied: 2, results: { 2: stale } })).toEqual([
      { op_id: op(1).op_id, status: 'applied' }, stale, { op_id: op(3).op_id, status: 'applied' },
    ]);
    expect(checkResults('postgres', batch(0), { applied: 0, results: {} })).toEqual([]);
  });

  it.each([
    ['too few answered', { applied: 1, results: {} }, /1 applied and 0 results for 2 operations/],
    ['a position past the batch', { applied: 1, results: { 3: { op_id: 'x', status: 'stale' } } }, /position "3"/],
    ['a position counted from 0', { applied: 1, results: { 0: { op_id: op(1).op_id, status: 'stale' } } }, /position "0"/],
    ['another operation\'s result', { applied: 1, results: { 1: { op_id: op(2).op_id, status: 'stale' } } }, /answered for operation .*0002 at position 1, where .*0001 was sent/],
    ['a status it does not know', { applied: 1, results: { 2: { op_id: op(2).op_id, status: 'maybe' } } }, /answered .*maybe.* for operation 2/],
    ['a position listed with no result', { applied: 1, results: { 2: null } }, /answered null for operation 2/],
    ['a short array', [{ op_id: op(1).op_id, status: 'applied' }], /answered 1 results for 2 operations/],
    ['neither shape', 'applied', /answered string where a compact answer/],
  ])('is refused as a whole when it has %s', (_, value, message) => {
    expect(() => checkResults('postgres', batch(2), value)).toThrow(expect.objectContaining({ name: 'RemoteRejectedError', message: expect.stringMatching(message) }));
  });

  it('may be one result per operation after all (a remote rolled back since it said schema 5), each checked', () => {
    const stale = { op_id: op(2).op_id, status: 'stale' };
    expect(checkResults('postgres', batch(2), [{ op_id: op(1).op_id, status: 'applied' }, stale])).toEqual([{ op_id: op(1).op_id, status: 'applied' }, stale]);
    expect(() => checkResults('postgres', batch(2), [{ op_id: op(1).op_id, status: 'applied' }, { op_id: op(1).op_id, status: 'applied' }])).toThrow(/where .*0002 was sent/);
  });

  it('is not what a batch that did not ask gets: one result per operation, each checked the same way', () => {
    expect(checkResults('postgres', batch(1, false), [{ op_id: op(1).op_id.toUpperCase(), status: 'applied' }])).toHaveLength(1);
    expect(() => checkResults('postgres', batch(2, false), [{ op_id: op(1).op_id, status: 'applied' }, null])).toThrow(/answered null for operation 2/);
    expect(() => checkResults('postgres', batch(2, false), { applied: 2, results: {} })).toThrow(/answered .*applied.* for 2 operations/);
  });
});

describe('a remote whose batch_sync answers what does not add up', () => {
  let spine: Spine;
  afterAll(() => spine?.close());

  pgTest('settles nothing: every operation stays pending, and the sync says why', async ({ db }) => {
    spine = spineOn(db, {});
    spine.local.recorder.record([1, 2, 3].map((i) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: `bad-${i}`, record_data: { title: 't' } })));
    await db.query('alter function public.batch_sync(jsonb) rename to batch_sync_real');
    try {
      // One that says two were applied out of three: which one was not is anyone's guess.
      await db.query(`create function public.batch_sync(batch jsonb) returns jsonb language sql security definer set search_path = '' as $$
        select jsonb_build_object('applied', 2, 'results', '{}'::jsonb) $$`);
      await db.query('grant execute on function public.batch_sync(jsonb) to authenticated');
      const why = /batch_sync answered 2 applied and 0 results for 3 operations; nothing of this batch is settled/;
      await expect(spine.sync()).rejects.toMatchObject({ name: 'RemoteRejectedError', message: expect.stringMatching(why) });
      expect(spine.local.metrics.recent(1)[0]).toMatchObject({ success: 0, operations_synced: 0, error_message: expect.stringMatching(why) });
      expect(spine.local.outbox.pendingTotal()).toBe(3);
    } finally {
      await db.query('drop function public.batch_sync(jsonb)');
      await db.query('alter function public.batch_sync_real(jsonb) rename to batch_sync');
    }
    expect(await spine.sync()).toMatchObject({ status: 'synced', operations_synced: 3 });
    expect(spine.local.outbox.pendingTotal()).toBe(0);
  });
});

describe('a remote not yet on schema 5', () => {
  it('is not asked for compact answers, syncs all the same, and doctor says what it misses', async () => {
    const db = await createTestDatabase('ccm_s4', { migrate: false });
    try {
      await db.query(BOOTSTRAP_SQL);
      for (const m of migrationFiles().filter((f) => f.version < '20261207000000')) await db.query(m.sql);
      // What each batch asked for, as the remote saw it.
      await db.query(`alter function public.batch_sync(jsonb) rename to batch_sync_v4;
        create table public.asked (compact boolean);
        create function public.batch_sync(batch jsonb) returns jsonb language plpgsql security definer set search_path = '' as $$
          begin insert into public.asked values (batch ? 'answers'); return public.batch_sync_v4(batch); end $$;
        grant execute on function public.batch_sync(jsonb) to authenticated;`);
      const s4 = spineOn(db, {});
      try {
        s4.local.recorder.record([1, 2, 3].map((i) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: `s4-${i}`, record_data: { title: 't' } })));
        expect(await s4.sync()).toMatchObject({ status: 'synced', operations_synced: 3 });
        expect(await db.query('select compact from public.asked')).toEqual([{ compact: false }]);
        const schema = (await remoteChecks(s4.env.settings, Date.now())).find((c) => c.name === 'schema');
        expect(schema).toMatchObject({ level: 'warn', detail: expect.stringMatching(/^schema 4: syncs work, but the remote answers every operation in full/) });
      } finally {
        await s4.close();
      }
    } finally {
      await db.drop();
    }
  });
});

describe('a remote still on schema 3 (as 0.1.0 left it)', () => {
  it('syncs; doctor warns of what it misses and fails nothing; report says to migrate', async () => {
    const db = await createTestDatabase('ccm_s3', { migrate: false });
    try {
      await db.query(BOOTSTRAP_SQL);
      for (const m of migrationFiles().filter((f) => f.version < '20261203120000')) await db.query(m.sql);
      const s3 = spineOn(db, {});
      try {
        s3.local.recorder.record([{ operation: 'INSERT' as const, table_name: 'tasks', record_id: 's3-1', record_data: { title: 't' } }]);
        expect(await s3.sync()).toMatchObject({ status: 'synced', operations_synced: 1 });
        const checks = await remoteChecks(s3.env.settings, Date.now());
        // The row-level security check needs ccm_visible_systems (schema 4); its absence is not a schema failure.
        expect(checks.map((c) => [c.name, c.level])).toEqual([['reachable', 'ok'], ['schema', 'warn'], ['clock', 'ok'], ['row-level security', 'warn']]);
        expect(checks[3]).toMatchObject({ detail: expect.stringMatching(/not checked/), fix: expect.stringMatching(/ccm-sync remote migrate/) });
        await expect(readTaskSummaries(s3.env.settings, '2026-01-01T00:00:00Z')).rejects.toThrow(/no usage columns yet .*ccm-sync remote migrate/);
      } finally {
        await s3.close();
      }
    } finally {
      await db.drop();
    }
  });
});
