/**
 * Last-write-wins per column, against a reference model, with fast-check commands: multi-column
 * partial INSERT, UPDATE and DELETE from one system (coalesced or sent one by one), equal and
 * out-of-order change times, and edits made directly on the remote through PostgREST (as the
 * system's `authenticated` JWT) and in SQL (as service_role). After every step the remote holds
 * exactly what the model says.
 *
 * The model (the rule the migration 20261126000000 documents): a write's version is (change time,
 * outbox position; no position for a direct edit, which wins ties). For each record, F is its
 * newest delete and R its newest write; it exists while R > F; each column holds the value of its
 * newest write if that write is newer than F. The outcome does not depend on arrival order, so the
 * model is a fold over every write that reached the remote.
 */
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, describe, expect } from 'vitest';
import { ManualClock } from '../src/clock.ts';
import { openLocal, syncContext, type Local } from '../src/local.ts';
import { PostgresTransport } from '../src/remote/postgres.ts';
import { runSync } from '../src/workers/sync-run.ts';
import { makeEnv, type TestEnv } from './helpers/env.ts';
import { systemToken } from './helpers/jwt.ts';
import { postgrestTest, type PostgrestServer, type TestDatabase } from './helpers/fixtures.ts';

const COLUMNS = ['title', 'status', 'priority', 'assignee'] as const;
type Col = (typeof COLUMNS)[number];

interface Write { rid: string; ver: string; keys: Partial<Record<Col, string | null>> }
interface Delete { rid: string; ver: string }

/** ccm_version in TypeScript: 17 digits of microseconds, 19 of outbox position. */
function version(iso: string, seq: number | null): string {
  return String(Date.parse(iso) * 1000).padStart(17, '0') + String(seq ?? 9223372036854775807n).padStart(19, '0');
}

class Model {
  readonly applied: Write[] = [];
  readonly deletes: Delete[] = [];
  pending: { write?: Write; del?: Delete }[] = [];

  expected(rids: readonly string[]): Record<string, Partial<Record<Col, string>> | undefined> {
    const out: Record<string, Partial<Record<Col, string>> | undefined> = {};
    for (const rid of rids) {
      const F = this.deletes.filter((d) => d.rid === rid).reduce((m, d) => (d.ver > m ? d.ver : m), '');
      const writes = this.applied.filter((w) => w.rid === rid);
      const R = writes.reduce((m, w) => (w.ver > m ? w.ver : m), '');
      if (!(R > F)) {
        out[rid] = undefined;
        continue;
      }
      const row: Partial<Record<Col, string>> = {};
      for (const c of COLUMNS) {
        let best: Write | undefined;
        for (const w of writes) if (c in w.keys && w.ver > F && (!best || w.ver > best.ver)) best = w;
        const v = best?.keys[c];
        if (v !== undefined && v !== null) row[c] = v;
      }
      out[rid] = row;
    }
    return out;
  }
}

let env: TestEnv;
let local: Local;
let transport: PostgresTransport;
let service: pg.Client;
const clock = new ManualClock(Date.now());

postgrestTest.beforeAll(async ({ db }) => {
  env = makeEnv({ remote: { kind: 'postgres' } });
  local = openLocal(env.settings, clock);
  transport = new PostgresTransport({ connectionString: db.url, systemId: env.systemId, timeoutMs: 10_000 });
  service = new pg.Client({ connectionString: db.url });
  await service.connect();
});
afterAll(async () => {
  await service.end();
  await transport.close();
  local.close();
  env.cleanup();
});

async function remoteState(db: TestDatabase, rids: readonly string[]) {
  const rows = await db.query<Record<string, string | null>>(`select * from tasks where system_id = $1 and id = any ($2)`, [env.systemId, rids]);
  const out: Record<string, Partial<Record<Col, string>> | undefined> = Object.fromEntries(rids.map((r) => [r, undefined]));
  for (const r of rows) {
    const row: Partial<Record<Col, string>> = {};
    for (const c of COLUMNS) if (r[c] !== null) row[c] = r[c]!;
    out[r.id!] = row;
  }
  return out;
}

/** After a direct edit: which columns it stamped, read back from the row's clock. */
async function stampedBy(db: TestDatabase, rid: string): Promise<Write | undefined> {
  const [r] = await db.query<{ v: string; clock: Record<string, string>; row: Record<string, string | null> }>(
    'select t.sync_version as v, public.ccm_clock(to_jsonb(t)) as clock, to_jsonb(t) as row from tasks t where system_id = $1 and id = $2', [env.systemId, rid]);
  if (!r) return undefined;
  const keys: Write['keys'] = {};
  for (const c of COLUMNS) if (r.clock[c] === r.v) keys[c] = r.row[c] ?? null;
  return { rid, ver: r.v, keys };
}

/** What every command of a run is given: the model, the run's number, and the remote (as the fixtures make it). */
type Ctx = { model: Model; run: number; db: TestDatabase; rest: PostgrestServer };
const rid = (ctx: Ctx, r: number) => `m${ctx.run}-${r}`;

class LocalWrite implements fc.AsyncCommand<Model, Ctx> {
  readonly r: number;
  readonly kind: 'INSERT' | 'UPDATE';
  readonly keys: Partial<Record<Col, string | null>>;
  readonly dt: number;
  constructor(r: number, kind: 'INSERT' | 'UPDATE', keys: Partial<Record<Col, string | null>>, dt: number) {
    this.r = r;
    this.kind = kind;
    this.keys = keys;
    this.dt = dt;
  }
  check = () => true;
  async run(_m: Model, ctx: Ctx) {
    const changed = new Date(clock.now() + this.dt).toISOString();
    const { op_ids } = local.recorder.record([{ operation: this.kind, table_name: 'tasks', record_id: rid(ctx, this.r), record_data: this.keys, changed_at: changed }]);
    const seq = (local.db.prepare('SELECT id FROM sync_queue WHERE op_id = ?').get(op_ids[0]) as { id: number }).id;
    ctx.model.pending.push({ write: { rid: rid(ctx, this.r), ver: version(changed, seq), keys: this.keys } });
  }
  toString = () => `${this.kind}(${this.r}, ${JSON.stringify(this.keys)}, ${this.dt})`;
}

class LocalDelete implements fc.AsyncCommand<Model, Ctx> {
  readonly r: number;
  readonly dt: number;
  constructor(r: number, dt: number) {
    this.r = r;
    this.dt = dt;
  }
  check = () => true;
  async run(_m: Model, ctx: Ctx) {
    const changed = new Date(clock.now() + this.dt).toISOString();
    const { op_ids } = local.recorder.record([{ operation: 'DELETE', table_name: 'tasks', record_id: rid(ctx, this.r), changed_at: changed }]);
    const seq = (local.db.prepare('SELECT id FROM sync_queue WHERE op_id = ?').get(op_ids[0]) as { id: number }).id;
    ctx.model.pending.push({ del: { rid: rid(ctx, this.r), ver: version(changed, seq) } });
  }
  toString = () => `DELETE(${this.r}, ${this.dt})`;
}

class Sync implements fc.AsyncCommand<Model, Ctx> {
  readonly coalesce: boolean;
  constructor(coalesce: boolean) {
    this.coalesce = coalesce;
  }
  check = () => true;
  async run(_m: Model, ctx: Ctx) {
    const settings = this.coalesce ? env.settings : { ...env.settings, sync: { ...env.settings.sync, page_size: 1 } };
    const r = await runSync(syncContext(local, settings, transport), { trigger: 'manual', reason: 'model' });
    expect(r.operations_failed + r.operations_pending_retry, JSON.stringify(r)).toBe(0);
    for (const p of ctx.model.pending) {
      if (p.write) ctx.model.applied.push(p.write);
      if (p.del) ctx.model.deletes.push(p.del);
    }
    ctx.model.pending = [];
    clock.advance(5);
  }
  toString = () => `SYNC(${this.coalesce ? 'coalesced' : 'one by one'})`;
}

class DirectEdit implements fc.AsyncCommand<Model, Ctx> {
  readonly r: number;
  readonly how: 'postgrest' | 'sql';
  readonly kind: 'upsert' | 'delete';
  readonly keys: Partial<Record<Col, string | null>>;
  constructor(r: number, how: 'postgrest' | 'sql', kind: 'upsert' | 'delete', keys: Partial<Record<Col, string | null>>) {
    this.r = r;
    this.how = how;
    this.kind = kind;
    this.keys = keys;
  }
  check = () => true;
  async run(_m: Model, ctx: Ctx) {
    const id = rid(ctx, this.r);
    const exists = (await ctx.db.query('select 1 from tasks where system_id = $1 and id = $2', [env.systemId, id])).length > 0;
    if (this.kind === 'delete') {
      if (!exists) return;
      if (this.how === 'postgrest') {
        const res = await fetch(`${ctx.rest.directUrl}/tasks?id=eq.${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${await systemToken(env.systemId)}` } });
        expect(res.status, await res.text()).toBeLessThan(300);
      } else {
        await service.query('begin; set local role service_role');
        await service.query('delete from tasks where system_id = $1 and id = $2', [env.systemId, id]);
        await service.query('commit');
      }
      const [t] = await ctx.db.query<{ version: string }>("select version from ccm_tombstones where system_id = $1 and table_name = 'tasks' and record_id = $2", [env.systemId, id]);
      ctx.model.deletes.push({ rid: id, ver: t!.version });
      return;
    }
    if (this.how === 'postgrest') {
      const res = await fetch(`${ctx.rest.directUrl}/tasks${exists ? `?id=eq.${id}` : ''}`, {
        method: exists ? 'PATCH' : 'POST',
        headers: { authorization: `Bearer ${await systemToken(env.systemId)}`, 'content-type': 'application/json' },
        body: JSON.stringify(exists ? this.keys : { system_id: env.systemId, id, ...this.keys }),
      });
      expect(res.status, await res.text()).toBeLessThan(300);
    } else {
      const cols = Object.keys(this.keys);
      await service.query('begin; set local role service_role');
      if (exists) await service.query(`update tasks set ${cols.map((c, i) => `${c} = $${i + 3}`).join(', ')} where system_id = $1 and id = $2`, [env.systemId, id, ...Object.values(this.keys)]);
      else await service.query(`insert into tasks (system_id, id${cols.map((c) => `, ${c}`).join('')}) values ($1, $2${cols.map((_, i) => `, $${i + 3}`).join('')})`, [env.systemId, id, ...Object.values(this.keys)]);
      await service.query('commit');
    }
    const stamped = await stampedBy(ctx.db, id);
    if (stamped) ctx.model.applied.push(stamped);
  }
  toString = () => `DIRECT-${this.how}-${this.kind}(${this.r}, ${JSON.stringify(this.keys)})`;
}

describe('last-write-wins per column, against the model', () => {
  postgrestTest('leaves the remote exactly as the model says after every step', async ({ db, rest }) => {
    let run = 0;
    const keys = fc.dictionary(fc.constantFrom(...COLUMNS), fc.oneof(fc.constantFrom('a', 'b', 'c', 'd'), fc.constant(null)), { minKeys: 1, maxKeys: 3 }) as fc.Arbitrary<Partial<Record<Col, string | null>>>;
    const rec = fc.integer({ min: 0, max: 1 });
    // Change times within ±2 s of the clock, with exact ties (dt 0) common.
    const dt = fc.oneof(fc.constant(0), fc.integer({ min: -2000, max: 2000 }));
    const commands = [
      fc.tuple(rec, fc.constantFrom('INSERT', 'UPDATE'), keys, dt).map(([r, k, ks, d]) => new LocalWrite(r, k as 'INSERT', ks, d)),
      fc.tuple(rec, fc.constantFrom('INSERT', 'UPDATE'), keys, dt).map(([r, k, ks, d]) => new LocalWrite(r, k as 'INSERT', ks, d)),
      fc.tuple(rec, dt).map(([r, d]) => new LocalDelete(r, d)),
      fc.boolean().map((c) => new Sync(c)),
      fc.tuple(rec, fc.constantFrom('postgrest', 'sql'), fc.constantFrom('upsert', 'upsert', 'delete'), keys).map(([r, h, k, ks]) => new DirectEdit(r, h as 'sql', k as 'upsert', ks)),
    ];
    await fc.assert(fc.asyncProperty(fc.commands(commands, { size: 'large', maxCommands: 20 }), async (cmds) => {
      run++;
      const ctx: Ctx = { model: new Model(), run, db, rest };
      const rids = [0, 1, 2].map((r) => rid(ctx, r));
      const steps = [...cmds, new Sync(true)];
      for (const c of steps) {
        await c.run(ctx.model, ctx);
        if (c instanceof Sync || c instanceof DirectEdit) expect(await remoteState(db, rids), `after ${steps.map(String).join(' · ')}`).toEqual(ctx.model.expected(rids));
      }
    }), { numRuns: Number(process.env.CCM_LWW_RUNS ?? 120) });
  });

  postgrestTest('keeps a newer remote column when an older partial write is merged with a newer one (the issue\'s example)', async ({ db }) => {
    const base = Date.parse('2026-05-01T10:00:00.000Z');
    const at = (s: number) => new Date(base + s * 1000).toISOString();
    const id = 'issue-example';
    local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: id, record_data: { status: 'x' }, changed_at: at(4) }]);
    await runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 't4' });
    local.recorder.record([
      { operation: 'UPDATE', table_name: 'tasks', record_id: id, record_data: { status: 'old' }, changed_at: at(3) },
      { operation: 'UPDATE', table_name: 'tasks', record_id: id, record_data: { title: 'T' }, changed_at: at(5) },
    ]);
    const r = await runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 'coalesced' });
    expect(r).toMatchObject({ operations_in: 2, operations_out: 1 }); // merged into one upload
    expect((await remoteState(db, [id]))[id]).toEqual({ status: 'x', title: 'T' });
  });
});
