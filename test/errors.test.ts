/**
 * What a person sees when something is wrong before anything syncs: an old Node, a malformed URL,
 * a refused connection, a bad flag. Each names the problem and its fix, with the right exit code
 * and no stack trace; and `remote query` shows what arrived without being able to change it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_NODE, nodeProblem } from '../src/node-guard.ts';
import { CLI, runCli } from './helpers/cli.ts';
import { freePort } from './helpers/postgrest.ts';
import { startDaemonProcess } from './helpers/daemon-process.ts';
import { makeEnv, type TestEnv } from './helpers/env.ts';
import { RemoteRejectedError, RemoteUnavailableError } from '../src/errors.ts';
import { pgFacts, reusableAfter } from '../src/remote/postgres.ts';
import { classifyFailure, NEWEST_REMOTE_SCHEMA } from '../src/remote/transport.ts';
import { pgConnectionString } from '../src/remote/urls.ts';
import { pgTest } from './helpers/fixtures.ts';

const noStack = (text: string) => expect(text).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);

/** Another Node on this machine older than MIN_NODE_MAJOR (the system Node is 20 here and in CI). */
const oldNode = ['/usr/bin/node', '/usr/local/bin/node'].find((bin) => {
  try {
    return Number(execFileSync(bin, ['-p', 'process.versions.node.split(".")[0]']).toString()) < MIN_NODE[0];
  } catch {
    return false;
  }
});

describe('the Node guard', () => {
  it('names the version needed and the one found', () => {
    expect(nodeProblem('v20.19.2')).toBe(`ccm-sync needs Node ≥ 22.14 (found v20.19.2); install Node 22.14 or later (https://nodejs.org/) and run it with that`);
    expect(nodeProblem('v18.0.0')).toMatch(/found v18\.0\.0/);
    expect(nodeProblem('v22.13.1')).toMatch(/needs Node ≥ 22\.14 \(found v22\.13\.1\)/);
    expect(nodeProblem('v22.14.0')).toBeUndefined();
    expect(nodeProblem('v23.5.0')).toMatch(/needs Node ≥ 22\.14 \(on the 23 line, 23\.6\) \(found v23\.5\.0\)/);
    expect(nodeProblem('v23.6.0')).toBeUndefined();
    expect(nodeProblem('v24.21.0')).toBeUndefined();
  });

  it.skipIf(!oldNode)('stops the CLI on an older Node with exit 1 before better-sqlite3 loads', () => {
    const env = makeEnv();
    try {
      for (const args of [['sync', 'status'], ['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', '1', '--data', '{}']]) {
        let code = 0;
        let stderr = '';
        try {
          execFileSync(oldNode!, [CLI, ...args], { env: { ...env.env, PATH: process.env.PATH }, stdio: 'pipe' });
        } catch (err) {
          const e = err as { status: number | null; signal: string | null; stderr: Buffer };
          code = e.status ?? -1;
          stderr = e.stderr.toString();
          expect(e.signal).toBeNull(); // not a segmentation fault
        }
        expect(code).toBe(1);
        expect(stderr).toMatch(/^ccm-sync needs Node ≥ 22\.14 \(found v\d+\.\d+\.\d+\)/);
      }
    } finally {
      env.cleanup();
    }
  });
});

describe('remote URLs and connections', () => {
  let env: TestEnv;
  beforeAll(() => {
    env = makeEnv({ remote: { kind: 'postgres' } });
  });
  afterAll(() => env.cleanup());

  it('refuses a database URL that is not a postgres URL, naming the variable, exit 2', async () => {
    for (const [url, why] of [['not a url', /CCM_SYNC_DATABASE_URL is not a valid URL; expected postgres:\/\//], ['mysql://u:hunter22@db/x', /CCM_SYNC_DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL, not mysql:/]] as const) {
      for (const args of [['sync', 'now'], ['remote', 'migrate'], ['remote', 'query', 'select 1']]) {
        const r = await runCli(args, { env: { ...env.env, CCM_SYNC_DATABASE_URL: url } });
        expect(r.code, `${args.join(' ')} with ${url}`).toBe(2);
        expect(r.stderr).toMatch(why);
        expect(r.stderr).not.toContain('hunter22');
        expect(r.stderr).not.toMatch(/ENOTFOUND/);
      }
    }
  });

  it('refuses a Supabase URL that is not http(s), or that holds a password, exit 2', async () => {
    for (const [url, why] of [['ftp://example.com', /SUPABASE_URL must be an http\(s\) URL, not ftp:/], ['http://user:pa55word@127.0.0.1:1', /SUPABASE_URL must not hold a user name or password/]] as const) {
      const sb = makeEnv({ remote: { kind: 'supabase' } }, { SUPABASE_URL: url, SUPABASE_PUBLISHABLE_KEY: 'anon-key-1234', CCM_SYNC_ACCESS_TOKEN: 'token-1234' });
      try {
        await runCli(['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', '1', '--data', '{}'], { env: sb.env });
        const r = await runCli(['sync', 'now'], { env: sb.env });
        expect(r.code, url).toBe(2);
        expect(r.stderr).toMatch(why);
        expect(r.stderr).not.toContain('pa55word');
      } finally {
        sb.cleanup();
      }
    }
  });

  it('names a refused connection as refused, without a stack trace, on each remote', async () => {
    const port = await freePort();
    const sb = makeEnv({ remote: { kind: 'supabase' } }, { SUPABASE_URL: `http://127.0.0.1:${port}`, SUPABASE_PUBLISHABLE_KEY: 'anon-key-1234', CCM_SYNC_ACCESS_TOKEN: 'token-1234' });
    const pgEnv = { ...env.env, CCM_SYNC_DATABASE_URL: `postgres://nobody@127.0.0.1:${port}/none` };
    try {
      await runCli(['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', '1', '--data', '{}'], { env: sb.env });
      await runCli(['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', '1', '--data', '{}'], { env: pgEnv });
      for (const e of [sb.env, pgEnv]) {
        const r = await runCli(['sync', 'now'], { env: e });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/refused the connection \(ECONNREFUSED\)/);
        noStack(r.stderr);
      }
      // fleet reads through supabase-js's query builder, which says HTTP 0 for a request never answered.
      const fleet = await runCli(['fleet'], { env: { ...sb.env, SUPABASE_SECRET_KEY: 'sb_secret_1234567890' } });
      expect(fleet.code).toBe(1);
      expect(fleet.stderr).toMatch(/refused the connection \(ECONNREFUSED\)/);
      expect(fleet.stderr).not.toMatch(/HTTP 0|sb_secret_1234567890/);
    } finally {
      sb.cleanup();
    }
  });
});

describe('the command line', () => {
  it('stops quietly when its reader goes away (`ccm-sync --help | head -1`)', () => {
    const q = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
    const node = `${q(process.execPath)} ${q(CLI)}`;
    // `true` exits without reading: every write meets a closed pipe.
    const r = spawnSync('sh', ['-c', `${node} --help | true; ${node} config reference | true; ${node} tables | true`], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('takes --config and --json before the command as well as after it', async () => {
    const env = makeEnv({});
    try {
      const r = await runCli(['--config', env.configPath, '--json', 'where'], { env: {} });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ home: { found_by: '--config', path: path.dirname(env.configPath) } });
    } finally {
      env.cleanup();
    }
  });
});

describe('remote token flags', () => {
  const secret = { SUPABASE_JWT_SECRET: 's'.repeat(40) };
  it('refuses an empty or malformed system id and a bad lifetime with exit 2, and mints with good ones', async () => {
    for (const [args, why] of [
      [['--system-id', ''], /--system-id must be 1–128 letters/],
      [['--system-id', 'has space'], /--system-id must be/],
      [['--system-id', 'ok', '--expires', '10x'], /--expires must be a span like 30d/],
      [['--system-id', 'ok', '--expires', ''], /--expires must be a span/],
      [['--system-id', 'ok', '--expires', '0d'], /--expires must be a span like 30d, 12h or 1y \(a number above 0/],
    ] as const) {
      const r = await runCli(['remote', 'token', ...args], { env: secret });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(why);
      expect(r.stdout).toBe('');
    }
    const ok = await runCli(['remote', 'token', '--system-id', 'ws-1', '--expires', '30d', '--json'], { env: secret });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).system_id).toBe('ws-1');
  });
});

describe('remote query', () => {
  let env: TestEnv;
  pgTest.beforeAll(async ({ db }) => {
    env = makeEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: db.url });
  });
  afterAll(async () => {
    env.cleanup();
  });

  pgTest('shows what arrived on the postgres remote and cannot change it', async ({ db }) => {
    await runCli(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', 'q-1', '--data', '{"title":"look at me"}'], { env: env.env });
    expect((await runCli(['sync', 'now'], { env: env.env })).code).toBe(0);
    const r = await runCli(['remote', 'query', '--json', "select id, title from tasks where id = 'q-1'"], { env: env.env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ columns: ['id', 'title'], rows: [{ id: 'q-1', title: 'look at me' }] });
    // Counts, sums and numerics are numbers when a number holds them exactly, text when not.
    const n = await runCli(['remote', 'query', '--json', "select count(*) as n, sum(sync_seq) as s, 0.004825::numeric as cost, 123456789012345678901234.5::numeric as big from tasks where id = 'q-1'"], { env: env.env });
    expect(JSON.parse(n.stdout).rows).toEqual([{ n: 1, s: 1, cost: 0.004825, big: '123456789012345678901234.5' }]);
    const human = await runCli(['remote', 'query', "select id, title from tasks where id = 'q-1'"], { env: env.env });
    expect(human.stdout).toMatch(/^id\s+\| title\n/);
    expect(human.stdout).toMatch(/\(1 row\)/);
    for (const sql of ["delete from tasks where id = 'q-1'", "select 1; delete from tasks where id = 'q-1'", 'set transaction read write', "update tasks set title = 'x'"]) {
      const w = await runCli(['remote', 'query', sql], { env: env.env });
      expect(w.code, sql).toBe(2);
      expect(w.stderr).toMatch(/the remote refused the query/);
    }
    expect(await db.query("select title from tasks where id = 'q-1'")).toEqual([{ title: 'look at me' }]);
    const bad = await runCli(['remote', 'query', 'select * from no_such_table'], { env: env.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/relation "no_such_table" does not exist/);
    // A login the server refuses is the connection's failure, not the statement's (exit 1, not 2).
    const stranger = Object.assign(new URL(db.url), { username: 'no_such_role' }).href;
    const login = await runCli(['remote', 'query', 'select 1'], { env: { ...env.env, CCM_SYNC_DATABASE_URL: stranger } });
    expect(login.code, login.stderr).toBe(1);
    expect(login.stderr).toMatch(/refused the login \(28000\).*check the user and password in CCM_SYNC_DATABASE_URL/);
  });

  it('does the same on the embedded remote, and says on Supabase where to look instead', async () => {
    const em = makeEnv();
    const sb = makeEnv({ remote: { kind: 'supabase' } }, { SUPABASE_URL: 'http://127.0.0.1:1', SUPABASE_PUBLISHABLE_KEY: 'anon-key-1234', CCM_SYNC_ACCESS_TOKEN: 'token-1234' });
    try {
      await runCli(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', 'e-1', '--data', '{"title":"embedded"}'], { env: em.env });
      expect((await runCli(['sync', 'now'], { env: em.env })).code).toBe(0);
      const r = await runCli(['remote', 'query', '--json', "select title from tasks where id = 'e-1'"], { env: em.env });
      expect(JSON.parse(r.stdout).rows).toEqual([{ title: 'embedded' }]);
      const w = await runCli(['remote', 'query', 'delete from tasks'], { env: em.env });
      expect(w.code).toBe(2);
      expect(w.stderr).toMatch(/read-only/);
      const again = await runCli(['remote', 'query', '--json', 'select count(*)::int as n from tasks'], { env: em.env });
      expect(JSON.parse(again.stdout).rows).toEqual([{ n: 1 }]);
      // With the daemon running (it holds the embedded remote), the query goes through it.
      const daemon = await startDaemonProcess(em.env);
      try {
        const via = await runCli(['remote', 'query', '--json', "select title from tasks where id = 'e-1'"], { env: em.env });
        expect(via.code, via.stderr).toBe(0);
        expect(JSON.parse(via.stdout).rows).toEqual([{ title: 'embedded' }]);
        const refused = await runCli(['remote', 'query', 'delete from tasks'], { env: em.env });
        expect(refused.code).toBe(2);
        expect(refused.stderr).toMatch(/read-only/);
        // So do doctor, fleet, report and remote migrate: they said the remote was not migrated.
        await runCli(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', 'e-2', '--data', '{"title":"through the daemon"}'], { env: em.env });
        expect((await runCli(['sync', 'now'], { env: em.env })).stdout).toMatch(/daemon pid/);
        const doctor = JSON.parse((await runCli(['doctor', '--json'], { env: em.env })).stdout) as { checks: { area: string; name: string; level: string; detail: string }[] };
        const remote = doctor.checks.filter((c) => c.area === 'remote');
        expect(remote.map((c) => [c.name, c.level])).toEqual([['reachable', 'ok'], ['schema', 'ok'], ['clock', 'ok'], ['row-level security', 'ok']]);
        expect(remote[0]!.detail).toMatch(new RegExp(`open in the running daemon \\(pid ${daemon.child.pid}\\)`));
        const fleet = await runCli(['fleet', '--json'], { env: em.env });
        expect(fleet.code, fleet.stderr).toBe(0);
        expect(JSON.parse(fleet.stdout).systems.map((x: { system_id: string }) => x.system_id)).toEqual([em.systemId]);
        const report = await runCli(['report', '--json', '--since', '1d'], { env: em.env });
        expect(report.code, report.stderr).toBe(0);
        expect(JSON.parse(report.stdout).total.tasks).toBe(0);
        const migrate = await runCli(['remote', 'migrate', '--json'], { env: em.env });
        expect(migrate.code, migrate.stderr).toBe(0);
        expect(JSON.parse(migrate.stdout)).toEqual({ remote: 'embedded', applied: [], schema: NEWEST_REMOTE_SCHEMA, via_daemon: daemon.child.pid });
      } finally {
        await daemon.stop();
      }
      const s = await runCli(['remote', 'query', 'select 1'], { env: sb.env });
      expect(s.code).toBe(2);
      expect(s.stderr).toMatch(/on Supabase, use the SQL editor/);
    } finally {
      em.cleanup();
      sb.cleanup();
    }
  });
});

describe('TLS to the database', () => {
  pgTest('sslmode=require keeps node-postgres\'s meaning (verify-full) without its warning on every start, and a refusal says what to change', async ({ db }) => {
    const tls = makeEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: `${Object.assign(new URL(db.url), { password: 'hunter2-secret' }).href}?sslmode=require` });
    try {
      await runCli(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', 't', '--data', '{}'], { env: tls.env });
      const r = await runCli(['sync', 'now'], { env: tls.env });
      // This server has SSL off: a connection that cannot be made the same way every time, not an outage.
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/does not support SSL connections; remove sslmode from CCM_SYNC_DATABASE_URL/);
      expect(r.stderr).not.toMatch(/SECURITY WARNING|hunter2-secret/);
    } finally {
      tls.cleanup();
    }
  });

  it('takes a certificate the client does not trust for a setting to change, naming sslrootcert, and a broken handshake for an outage', () => {
    const untrusted = Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    const err = classifyFailure('postgres', pgFacts(untrusted));
    expect(err).toBeInstanceOf(RemoteRejectedError);
    expect(err.message).toMatch(/TLS certificate is not trusted \(SELF_SIGNED_CERT_IN_CHAIN.*sslrootcert=.*sslmode=verify-full/);
    const handshake = Object.assign(new Error('TLS handshake timeout'), { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' });
    expect(classifyFailure('postgres', pgFacts(handshake))).toBeInstanceOf(RemoteUnavailableError);
  });

  it('passes sslmode=require on as verify-full, what node-postgres means by it, unless libpq\'s meaning is asked for', () => {
    expect(pgConnectionString('postgres://u:p%40ss@h:6543/postgres?sslmode=require&sslrootcert=/etc/ca.crt')).toBe('postgres://u:p%40ss@h:6543/postgres?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.crt');
    for (const same of ['postgres://u@h/db', 'postgres://u@h/db?sslmode=verify-full', 'postgres://u@h/db?uselibpqcompat=true&sslmode=require', 'postgres://u@h/db?sslmode=disable']) {
      expect(pgConnectionString(same)).toBe(same);
    }
  });
});

describe('sorting a failed call', () => {
  // A socket the server closed mid-write fails with EPIPE: five capital letters, like a SQLSTATE.
  // Read as one, it was a permanent refusal, and a daemon whose Postgres restarted stopped syncing.
  it('takes an errno code for a network failure, not a SQLSTATE', () => {
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    expect(pgFacts(epipe)).toMatchObject({ sqlstate: undefined, networkCode: 'EPIPE' });
    expect(classifyFailure('postgres', pgFacts(epipe))).toBeInstanceOf(RemoteUnavailableError);
    expect(reusableAfter(epipe)).toBe(false);
  });

  it('takes a SQLSTATE as the server\'s answer', () => {
    const refused = Object.assign(new Error('permission denied'), { code: '42501' });
    expect(pgFacts(refused)).toMatchObject({ sqlstate: '42501', networkCode: undefined });
    expect(classifyFailure('postgres', pgFacts(refused))).toBeInstanceOf(RemoteRejectedError);
    expect(classifyFailure('postgres', pgFacts(Object.assign(new Error('shutting down'), { code: '57P03' })))).toBeInstanceOf(RemoteUnavailableError);
  });
});
