/**
 * `ccm-sync doctor`: a healthy setup (a daemon, a migrated Postgres with another system on it, the
 * hook installed once), then each thing an operator meets: a stopped daemon, an expired token, a
 * remote without the migrations, a home others can write, a full disk, the hook installed twice.
 * Each gives its line, with the fix, and the exit code.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.ts';
import { startDaemonProcess } from './helpers/daemon-process.ts';
import { makeEnv, type TestEnv } from './helpers/env.ts';
import { mintToken, anonKey } from './helpers/jwt.ts';
import { startPostgrest, type PostgrestServer } from './helpers/postgrest.ts';
import { pgTest } from './helpers/fixtures.ts';
import { createTestDatabase } from './helpers/pg.ts';

interface Check { area: string; name: string; level: 'ok' | 'warn' | 'fail'; detail: string; fix?: string }

let env: TestEnv;
let user: string;
/** The URL a fleet's machine gets: a login role that is only a member of authenticated. */
let machineUrl: string;
pgTest.beforeAll(async ({ db }) => {
  await db.query("do $$ begin create role ccm_doctor_machine login; exception when duplicate_object then null; end $$; grant authenticated to ccm_doctor_machine");
  const u = new URL(db.url);
  u.username = 'ccm_doctor_machine';
  machineUrl = u.toString();
  env = makeEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: machineUrl });
  user = path.join(env.dir, 'user');
  mkdirSync(user);
  // Another system on the same remote: this one must not see its row.
  const other = makeEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: db.url });
  await runCli(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', 'o1', '--data', '{"title":"theirs"}'], { env: other.env });
  expect((await runCli(['sync', 'now'], { env: other.env })).code).toBe(0);
  other.cleanup();
  expect((await runCli(['hook', 'install', '--claude-version', '2.1.328'], { env: { ...env.env, HOME: user }, cwd: env.dir })).code).toBe(0);
});
afterAll(async () => {
  env.cleanup();
});

async function doctor(extra: NodeJS.ProcessEnv = {}, args: string[] = []) {
  const r = await runCli(['doctor', '--json', ...args], { env: { ...env.env, HOME: user, ...extra }, cwd: env.dir });
  const out = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] };
  const find = (area: string, name: string) => out.checks.find((c) => c.area === area && c.name === name);
  return { code: r.code, out, find };
}

describe('ccm-sync doctor', () => {
  pgTest('passes a healthy setup: each check ok, the clock skew measured, other systems invisible', async ({ db }) => {
    const daemon = await startDaemonProcess({ ...env.env, HOME: user });
    try {
      const { code, out, find } = await doctor();
      expect(out.checks.filter((c) => c.level === 'fail')).toEqual([]);
      expect(code).toBe(0);
      for (const [area, name] of [['machine', 'node'], ['machine', 'native module'], ['machine', 'home'], ['machine', 'disk'], ['machine', 'outbox database'], ['daemon', 'daemon'],
        ['daemon', 'local API'], ['remote', 'reachable'], ['remote', 'schema'], ['remote', 'clock'], ['remote', 'row-level security'], ['hooks', 'installed'], ['sync', 'dead letters']] as const) {
        expect(find(area, name), `${area}: ${name}`).toMatchObject({ level: 'ok' });
      }
      expect(find('remote', 'clock')!.detail).toMatch(/^the remote's clock is \d+ ms (ahead of|behind) this machine's/);
      expect(find('remote', 'row-level security')!.detail).toBe('this system reads no other system\'s rows');
      expect(find('daemon', 'service')).toMatchObject({ level: 'warn', fix: 'ccm-sync service install' });
    } finally {
      await daemon.stop();
    }
    // The same machine connecting as the superuser: its syncs still see only their rows, but psql would not.
    const admin = await doctor({ CCM_SYNC_DATABASE_URL: db.url });
    expect(admin.find('remote', 'row-level security')).toMatchObject({ level: 'warn', detail: expect.stringMatching(/the database user postgres may read every system's/) });
    // A remote whose row-level security is off: this machine reads the other system's row.
    await db.query('alter table public.ccm_sync_systems disable row level security');
    try {
      const open = await doctor();
      expect(open.code).toBe(1);
      expect(open.find('remote', 'row-level security')).toMatchObject({ level: 'fail', detail: "this system's credentials read 1 other systems' rows" });
    } finally {
      await db.query('alter table public.ccm_sync_systems enable row level security');
    }
    const human = await runCli(['doctor'], { env: { ...env.env, HOME: user }, cwd: env.dir });
    expect(human.stdout).toMatch(/^warn {2}daemon: daemon {17}not running: nothing syncs until a command asks\n {37}→ ccm-sync start, or ccm-sync service install$/m);
  });

  pgTest('fails a remote without the migrations, an expired token and a full disk, each with its fix', async ({ db }) => {
    const empty = await createTestDatabase('ccm_empty', { migrate: false });
    try {
      const r = await doctor({ CCM_SYNC_DATABASE_URL: empty.url });
      expect(r.code).toBe(1);
      expect(r.find('remote', 'reachable')).toMatchObject({ level: 'fail', fix: expect.stringMatching(/apply supabase\/migrations/) });
    } finally {
      await empty.drop();
    }
    const rest: PostgrestServer = await startPostgrest(db);
    const supa = makeEnv({ remote: { kind: 'supabase' } }, {
      SUPABASE_URL: rest.url, SUPABASE_PUBLISHABLE_KEY: await anonKey(), CCM_SYNC_ACCESS_TOKEN: await mintToken({ role: 'authenticated', system_id: 'doc-1' }, undefined, new Date(Date.now() - 60_000)),
    });
    try {
      const r = await runCli(['doctor', '--json'], { env: { ...supa.env, HOME: user } });
      expect(r.code).toBe(1);
      const token = (JSON.parse(r.stdout) as { checks: Check[] }).checks.find((c) => c.name === 'token');
      expect(token).toMatchObject({ level: 'fail', detail: expect.stringMatching(/^from CCM_SYNC_ACCESS_TOKEN expired at /), fix: 'mint a fresh one: ccm-sync remote token' });
    } finally {
      supa.cleanup();
      await rest.close();
    }
    const full = makeEnv({ remote: { kind: 'postgres' }, monitoring: { min_free_disk_mb: 1e12 } }, { CCM_SYNC_DATABASE_URL: db.url });
    try {
      await runCli(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', 'f1', '--data', '{}'], { env: full.env });
      const r = await runCli(['doctor', '--json', '--no-remote'], { env: { ...full.env, HOME: user } });
      expect(r.code).toBe(1);
      expect((JSON.parse(r.stdout) as { checks: Check[] }).checks.find((c) => c.name === 'disk')).toMatchObject({ level: 'fail', detail: expect.stringMatching(/GiB free, under monitoring\.min_free_disk_mb/) });
    } finally {
      full.cleanup();
    }
  });

  it('fails a home others can write and a hook installed twice', async () => {
    const home = env.settings.paths.home;
    chmodSync(home, 0o777);
    try {
      const r = await doctor({}, ['--no-remote']);
      expect(r.code).toBe(1);
      expect(r.find('machine', 'home')).toMatchObject({ level: 'fail', detail: expect.stringMatching(/^others can write .* \(mode 777\)/), fix: `chmod 700 ${home}` });
    } finally {
      chmodSync(home, 0o700);
    }
    expect((await runCli(['hook', 'install', '--scope', 'local', '--claude-version', '2.1.328'], { env: { ...env.env, HOME: user }, cwd: env.dir })).code).toBe(0);
    const twice = await doctor({}, ['--no-remote']);
    expect(twice.code).toBe(1);
    expect(twice.find('hooks', 'installed')).toMatchObject({ level: 'fail', detail: expect.stringMatching(/^in 2 settings files .*: every event is recorded 2 times$/), fix: 'ccm-sync hook uninstall --scope local' });
  });
});
