/**
 * Upgrading a machine from the released 0.1.0 (test/fixtures/releases/ccm-sync-0.1.0.tgz, `npm pack`
 * of that release, installed here as a user installs it) to this version: a home 0.1.0 wrote, with
 * pending operations, a dead letter, a pending hook event, spooled hook events, its job database
 * and its config cache, taken over by this version's daemon: nothing lost, nothing doubled. 0.1.0
 * against a remote already migrated for this version keeps syncing; going back is refused; and a
 * hook that names the removed 0.1.0 installation is caught by `doctor`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import { VERSION } from '../src/version.ts';
import { childEnv, runCli } from './helpers/cli.ts';
import { startDaemonProcess } from './helpers/daemon-process.ts';
import { makeEnv, type TestEnv } from './helpers/env.ts';
import { freePort } from './helpers/postgrest.ts';
import { scaled, until } from './helpers/wait.ts';
import { pgTest } from './helpers/fixtures.ts';

const TARBALL = path.resolve('test/fixtures/releases/ccm-sync-0.1.0.tgz');

let env: TestEnv;
let prefix: string;
let user: string;
let old: (args: string[], extra?: NodeJS.ProcessEnv, input?: string) => { code: number | null; stdout: string; stderr: string };

pgTest.beforeAll(async ({ db }) => {
  // A constraint the remote enforces: the operation that breaks it is refused for good (a dead letter).
  await db.query("alter table public.alerts add constraint refuse_me check (message is distinct from 'refuse me')");
  env = makeEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: db.url });
  user = path.join(env.dir, 'user');
  mkdirSync(user);
  prefix = mkdtempSync(path.join(tmpdir(), 'ccm-rel010-'));
  execFileSync('npm', ['install', '-g', '--silent', '--no-audit', '--no-fund', '--prefix', prefix, TARBALL], { stdio: 'pipe', env: { ...process.env, npm_config_update_notifier: 'false' }, timeout: scaled(300_000) });
  const cli = path.join(prefix, 'lib', 'node_modules', 'ccm-sync', 'dist', 'cli', 'main.js');
  old = (args, extra = {}, input) => {
    const r = spawnSync(process.execPath, [cli, ...args], { env: childEnv({ ...env.env, HOME: user, ...extra }), input, encoding: 'utf8', timeout: scaled(120_000) });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
}, scaled(360_000));
afterAll(async () => {
  env.cleanup();
  rmSync(prefix, { recursive: true, force: true });
});

const pending = () => Number(JSON.parse(execFileSync(process.execPath, [path.resolve('dist/cli/main.js'), 'sync', 'status', '--json'], { env: childEnv(env.env), encoding: 'utf8' })).pending.total);

describe('from the released 0.1.0 to this version', () => {
  pgTest('keeps syncing with 0.1.0 against a remote migrated for this version, and this version takes over its home with everything in it', async ({ db }) => {
    expect(VERSION).toBe('0.2.0');
    expect(old(['--version']).stdout.trim()).toBe('0.1.0');
    // 0.1.0 at work: a synced task, a dead letter, three pending tasks, a pending hook event.
    expect(old(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', 'synced-1', '--data', '{"title":"by 0.1.0"}']).code).toBe(0);
    expect(old(['enqueue', '--op', 'INSERT', '--table', 'alerts', '--id', 'refused-1', '--data', '{"message":"refuse me"}']).code).toBe(0);
    const first = old(['sync', 'now', '--json']);
    expect(first.code).toBe(1); // a dead letter: 0.1.0 says so with exit 1
    expect(await db.query("select title from tasks where id = 'synced-1'")).toEqual([{ title: 'by 0.1.0' }]);
    for (const id of ['p1', 'p2', 'p3']) expect(old(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', id, '--data', `{"title":"${id}"}`]).code).toBe(0);
    expect(old(['enqueue', '--op', 'INSERT', '--table', 'hook_events', '--id', 'he-1', '--data', '{"task_id":"hook-task","hook_event_name":"UserPromptSubmit","session_id":"s1"}']).code).toBe(0);
    // Its hook, installed by 0.1.0 and run by Claude Code: two events spooled.
    expect(old(['hook', 'install', '--json'], {}, undefined).code).toBe(0);
    const command = JSON.parse(readFileSync(path.join(user, '.claude', 'settings.json'), 'utf8')).hooks.Stop[0].hooks[0].command as string;
    expect(command).toContain(prefix);
    for (const e of ['PostToolUse', 'Stop']) {
      const r = spawnSync('sh', ['-c', command], { input: JSON.stringify({ hook_event_name: e, session_id: 's1', prompt_id: 'hook-task', tool_name: 'Bash', tool_use_id: 'b1', tool_input: { command: 'ls' } }), env: childEnv({ ...env.env, HOME: user }) });
      expect(r.status).toBe(0);
    }
    const spool = path.join(env.settings.paths.home, 'spool', 'claude');
    expect(readdirSync(spool).filter((n) => n.endsWith('.json'))).toHaveLength(2);
    // Its daemon ran once while the remote was out of reach: jobs.db exists, nothing synced.
    const daemon010 = spawnSync(process.execPath, ['-e', `
      const { spawn } = require('node:child_process');
      const d = spawn(process.execPath, [${JSON.stringify(path.join(prefix, 'lib', 'node_modules', 'ccm-sync', 'dist', 'cli', 'main.js'))}, 'start', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
      d.stdout.on('data', (x) => { if (/"port"/.test(String(x))) setTimeout(() => d.kill('SIGTERM'), 1500); });
      d.on('exit', (c) => process.exit(c ?? 0));`], { env: childEnv({ ...env.env, HOME: user, CCM_SYNC_DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/none` }), timeout: scaled(60_000), encoding: 'utf8' });
    expect(daemon010.status, daemon010.stderr).toBe(0);
    expect(existsSync(env.settings.paths.jobsDb)).toBe(true);
    expect(existsSync(path.join(env.settings.paths.home, 'cache', 'config.json'))).toBe(true);

    // This version's daemon takes the home over: the database migrates, the spool is recorded,
    // the pending operations and the hook task's summary arrive once, the dead letter stays.
    const daemon = await startDaemonProcess({ ...env.env, HOME: user });
    try {
      await until(async () => (await db.query("select id from tasks where id in ('p1', 'p2', 'p3')")).length === 3 && readdirSync(spool).filter((n) => n.endsWith('.json')).length === 0, 'the pending operations to arrive', scaled(60_000));
      await runCli(['sync', 'now'], { env: { ...env.env, HOME: user } });
      const summary = await db.query<{ total_events: number; tools_used: unknown }>("select total_events, tools_used from task_summaries where id = 'hook-task'");
      expect(summary).toEqual([{ total_events: 3, tools_used: { Bash: 1 } }]);
      expect(pending()).toBe(0);
      const failed = JSON.parse((await runCli(['failed', 'list', '--json'], { env: env.env })).stdout) as { operations: { record_id: string }[] };
      expect(failed.operations.map((o) => o.record_id)).toEqual(['refused-1']);
      expect(await db.query("select count(*)::int as n from tasks where id like 'p%' or id = 'synced-1'")).toEqual([{ n: 4 }]);
    } finally {
      await daemon.stop();
    }

    // Going back is refused, and changes nothing.
    const back = old(['sync', 'status']);
    expect(back.code).not.toBe(0);
    expect(back.stderr).toMatch(/newer than this ccm-sync knows .*upgrade ccm-sync on this machine/);
    // The 0.1.0 installation is removed: its hook would no longer run, and doctor says what to do.
    rmSync(prefix, { recursive: true, force: true });
    const doctor = JSON.parse((await runCli(['doctor', '--json', '--no-remote'], { env: { ...env.env, HOME: user }, cwd: env.dir })).stdout) as { checks: { name: string; level: string; detail: string; fix?: string }[] };
    expect(doctor.checks.find((c) => c.name === 'installed')).toMatchObject({ level: 'fail', detail: expect.stringMatching(/which no longer exists/), fix: 'ccm-sync hook install --scope user' });
  });
});
