/**
 * A remote that trusts no caller: attacks through a real PostgREST with two systems' JWTs. Every
 * attempt is refused, and the victim's rows, ledger and tombstones are unchanged.
 */
import { describe, expect } from 'vitest';
import { AccessToken } from '../src/remote/credentials.ts';
import { SupabaseTransport } from '../src/remote/supabase.ts';
import { anonKey, systemToken } from './helpers/jwt.ts';
import type { WireOperation } from '../src/types.ts';
import { postgrestTest, type PostgrestServer, type TestDatabase } from './helpers/fixtures.ts';

let victim: SupabaseTransport;
let attacker: SupabaseTransport;
const A = 'victim-a';
const B = 'attacker-b';

const op = (over: Partial<WireOperation> = {}): WireOperation => ({
  op_id: crypto.randomUUID(), operation: 'INSERT', table: 'tasks', record_id: 'r1', data: { title: 'mine' },
  changed_at: '2026-05-01T10:00:00.000Z', seq: 1, ledger_seq: 1, ...over,
});
const upload = (t: SupabaseTransport, system: string, ops: WireOperation[]) =>
  t.upload({ system_id: system, sync_timestamp: new Date().toISOString(), operations: ops });

/** A request straight to PostgREST as a system (or anon). Returns status and body. */
async function as(rest: PostgrestServer, system: string | null, method: string, path: string, body?: unknown) {
  const token = system ? await systemToken(system) : await anonKey();
  const res = await fetch(`${rest.directUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', prefer: 'return=representation' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
}

/** Everything the victim has on the remote, read as a superuser. */
async function victimState(db: TestDatabase) {
  return {
    tasks: await db.query('select * from tasks where system_id = $1 order by id', [A]),
    ledger: await db.query('select op_id, result, ledger_seq from ccm_sync_ledger where system_id = $1 order by op_id', [A]),
    tombstones: await db.query('select * from ccm_tombstones where system_id = $1 order by record_id', [A]),
    watermark: await db.query('select settled_through, pruned_through from ccm_sync_systems where system_id = $1', [A]),
  };
}

postgrestTest.beforeAll(async ({ rest }) => {
  victim = new SupabaseTransport({ url: rest.url, apiKey: await anonKey(), token: new AccessToken({ value: await systemToken(A) }), timeoutMs: 10_000 });
  attacker = new SupabaseTransport({ url: rest.url, apiKey: await anonKey(), token: new AccessToken({ value: await systemToken(B) }), timeoutMs: 10_000 });
});

describe('a remote that trusts no caller', () => {
  postgrestTest('keeps each system\'s ledger its own: squatting another system\'s operation id changes nothing for it', async ({ db, rest }) => {
    const mine = op({ record_id: 'squat', data: { title: 'victim' } });
    // B learns A's next op_id and uploads it first, under its own system.
    expect((await upload(attacker, B, [{ ...mine, data: { title: 'attacker' } }]))[0]!.status).toBe('applied');
    // A's operation still applies for A: the ledger is keyed by (system_id, op_id).
    expect((await upload(victim, A, [mine]))[0]!.status).toBe('applied');
    expect((await db.query<{ title: string }>("select title from tasks where system_id = $1 and id = 'squat'", [A]))[0]!.title).toBe('victim');
    // And B cannot write a ledger row directly, for A or for itself.
    for (const sys of [A, B]) {
      const r = await as(rest, B, 'POST', '/ccm_sync_ledger', { system_id: sys, op_id: crypto.randomUUID(), table_name: 'tasks', record_id: 'x', result: 'applied' });
      expect(r.status).toBeGreaterThanOrEqual(400);
    }
  });

  postgrestTest('refuses deleting the ledger (so nothing replays), forging tombstones, and writing bookkeeping columns', async ({ db, rest }) => {
    const first = op({ record_id: 'replay', data: { title: 'once' }, seq: 2, ledger_seq: 2 });
    await upload(victim, A, [first]);
    await upload(victim, A, [op({ operation: 'DELETE', record_id: 'gone', data: {}, seq: 3, ledger_seq: 3 })]);
    const before = await victimState(db);
    const attempts = [
      await as(rest, A, 'DELETE', `/ccm_sync_ledger?system_id=eq.${A}`),
      await as(rest, A, 'PATCH', `/ccm_sync_ledger?system_id=eq.${A}`, { result: 'stale' }),
      await as(rest, A, 'POST', '/ccm_tombstones', { system_id: A, table_name: 'tasks', record_id: 'replay', deleted_at: '2099-01-01T00:00:00Z', version: '9'.repeat(36) }),
      await as(rest, A, 'DELETE', `/ccm_tombstones?system_id=eq.${A}`),
      await as(rest, A, 'PATCH', '/tasks?id=eq.replay', { sync_seq: null }),
      await as(rest, A, 'PATCH', '/tasks?id=eq.replay', { updated_at: '2099-01-01T00:00:00Z' }),
      await as(rest, A, 'PATCH', '/tasks?id=eq.replay', { sync_version: '9'.repeat(36), sync_clock: {} }),
      await as(rest, A, 'POST', '/ccm_sync_systems', { system_id: A, settled_through: 0, pruned_through: 0 }),
      await as(rest, A, 'PATCH', `/ccm_sync_systems?system_id=eq.${A}`, { settled_through: 0 }),
    ];
    for (const a of attempts) expect(a.status, JSON.stringify(a.body)).toBeGreaterThanOrEqual(400);
    expect(await victimState(db)).toEqual(before);
    // Re-sending the first operation is still a duplicate: nothing applies twice.
    expect((await upload(victim, A, [first]))[0]).toMatchObject({ status: 'duplicate', first_status: 'applied' });
  });

  postgrestTest('refuses every internal function, and batch_sync for another system, whoever calls', async ({ db, rest }) => {
    await upload(victim, A, [op({ record_id: 'internal', data: { title: 'safe' }, seq: 4, ledger_seq: 4 })]);
    const before = await victimState(db);
    const forged = [op({ record_id: 'internal', data: { title: 'hijacked' }, changed_at: '2099-01-01T00:00:00Z', seq: 99, ledger_seq: 99 })];
    const calls: [string, unknown][] = [
      ['ccm_apply_writes', { sys: A, ops: forged, settled: null }],
      ['ccm_apply_table', { sys: A, tbl: 'tasks', ops: forged, settled: null }],
      ['ccm_apply_op', { sys: A, op: forged[0], settled: null }],
      ['ccm_check_in', { sys: A, batch: { settled_through: 99, prune_ledger: true }, uploading: true }],
      ['ccm_make_writers', { tbl: 'tasks' }],
      ['ccm_write_rows', { tbl: 'tasks', fresh: [], existing: [{ system_id: A, id: 'internal', title: 'hijacked' }] }],
      ['ccm_direct_at', { sys: A, tbl: 'tasks', rid: 'internal', newest: null }],
      ['ccm_refusal', { op_id: 'x', lseq: 1, watermark: 1 }],
    ];
    for (const who of [A, B, null]) {
      for (const [fn, args] of calls) {
        const r = await as(rest, who, 'POST', `/rpc/${fn}`, args);
        // refused for want of the right to call it (not 404: the function exists and is found)
        expect([401, 403], `${who} → ${fn}: ${r.status} ${JSON.stringify(r.body)}`).toContain(r.status);
      }
    }
    await expect(upload(attacker, A, forged)).rejects.toMatchObject({ name: 'RemoteRejectedError', message: expect.stringMatching(/batch is for system 'victim-a' but the caller's JWT is for system 'attacker-b'/) });
    expect((await as(rest, null, 'POST', '/rpc/batch_sync', { batch: { system_id: A, operations: forged } })).status).toBeGreaterThanOrEqual(400);
    expect(await victimState(db)).toEqual(before);
  });

  postgrestTest('shows a system only its own rows, ledger and heartbeat; anon sees nothing', async ({ rest }) => {
    for (const path of ['/tasks', '/ccm_sync_ledger', '/ccm_tombstones', '/ccm_sync_systems']) {
      const r = await as(rest, B, 'GET', path);
      expect(r.status).toBe(200);
      expect((r.body as { system_id: string }[]).every((row) => row.system_id === B), path).toBe(true);
      expect((await as(rest, null, 'GET', path)).status, `anon ${path}`).toBeGreaterThanOrEqual(400);
    }
  });

  postgrestTest('runs batch_sync and every function of ours with a fixed search_path, as a role that is not a superuser', async ({ db }) => {
    const fns = await db.query<{ proname: string; secdef: boolean; config: string[] | null; owner: string; superuser: boolean }>(`
      select p.proname, p.prosecdef as secdef, p.proconfig as config, r.rolname as owner, r.rolsuper as superuser
        from pg_proc p join pg_roles r on r.oid = p.proowner
       where p.pronamespace = 'public'::regnamespace and (p.proname like 'ccm\\_%' or p.proname = 'batch_sync')`);
    expect(fns.length).toBeGreaterThan(10);
    for (const f of fns) {
      expect(f.config?.some((c) => c.startsWith('search_path=')), `${f.proname} has a fixed search_path`).toBe(true);
      expect([f.owner, f.superuser], f.proname).toEqual(['ccm_sync_owner', false]);
    }
    expect(fns.find((f) => f.proname === 'batch_sync')!.secdef).toBe(true);
  });
});
