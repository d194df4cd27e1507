/**
 * `ccm-sync service install|uninstall|status`: the systemd unit it writes (checked by
 * `systemd-analyze verify` and by what it must hold), the env file that keeps the secrets out of
 * it, a user's other units left alone, the commands to run where systemctl cannot be reached (as
 * here: no user session), and the daemon run exactly as the unit runs it, syncing with the
 * secrets from the env file alone.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchdPlist } from '../src/service/unit.ts';
import { runCli } from './helpers/cli.ts';
import { makeEnv, type TestEnv } from './helpers/env.ts';
import { scaled, until } from './helpers/wait.ts';
import { pgTest } from './helpers/fixtures.ts';

let env: TestEnv;
let userHome: string;
let unitDir: string;
let run: (args: string[], extra?: NodeJS.ProcessEnv) => ReturnType<typeof runCli>;

beforeAll(async () => {
  env = makeEnv({ remote: { kind: 'postgres' } });
  userHome = path.join(env.dir, 'user');
  unitDir = path.join(userHome, '.config', 'systemd', 'user');
  mkdirSync(unitDir, { recursive: true });
  // A unit of the user's own, which nothing of ccm-sync's may touch.
  writeFileSync(path.join(unitDir, 'backup.service'), '[Service]\nExecStart=/usr/bin/true\n');
  run = (args, extra = {}) => runCli(['service', ...args], { env: { ...env.env, HOME: userHome, ...extra } });
});
afterAll(async () => {
  env.cleanup();
});

const unitFile = () => path.join(unitDir, 'ccm-sync.service');
const envFile = () => path.join(env.settings.paths.home, 'service.env');

describe('ccm-sync service', () => {
  pgTest('writes a user unit that pins this installation and the home, keeps the secrets in a 0600 env file, and says what to run where systemctl cannot', async ({ db }) => {
    const dry = await run(['install', '--dry-run'], { CCM_SYNC_DATABASE_URL: db.url });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('(dry run: nothing written)');
    expect(existsSync(unitFile())).toBe(false);

    const r = await run(['install', '--json'], { CCM_SYNC_DATABASE_URL: db.url });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ platform: 'systemd', scope: 'user', unit: unitFile(), env_file: envFile(), env_keys: ['CCM_SYNC_DATABASE_URL'], started: false });
    // This machine has no systemd user session: install says so, and what to run.
    expect(out.not_started).toMatch(/systemctl --user daemon-reload` failed/);
    const unit = readFileSync(unitFile(), 'utf8');
    expect(unit).toContain(`ExecStart=${process.execPath} ${path.resolve('dist/cli/main.js')} start --secrets-file ${envFile()}`);
    expect(unit).toContain(`Environment=CCM_SYNC_CONFIG=${env.configPath}`);
    for (const line of ['Restart=on-failure', 'StartLimitBurst=5', 'NoNewPrivileges=yes', 'ProtectSystem=strict', `ReadWritePaths=${env.settings.paths.home}`, 'PrivateTmp=yes', 'WantedBy=default.target']) expect(unit).toContain(line);
    expect(unit).not.toContain(db.url);
    expect(statSync(envFile()).mode & 0o777).toBe(0o600);
    expect(readFileSync(envFile(), 'utf8')).toContain(`CCM_SYNC_DATABASE_URL=${JSON.stringify(db.url)}`);
    const verify = spawnSync('systemd-analyze', ['verify', unitFile()], { encoding: 'utf8' });
    if (verify.error) throw new Error('systemd-analyze is not installed (Debian: apt install systemd); .ci/run installs it');
    expect(verify.status, verify.stderr).toBe(0);

    const status = await run(['status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ unit: unitFile(), installed: true, daemon: null });
  });

  pgTest('runs the daemon as the unit runs it: the env file\'s secrets alone reach the remote, and SIGTERM stops it', async ({ db }) => {
    const unit = readFileSync(unitFile(), 'utf8');
    const exec = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(' ');
    const pinned = /^Environment=(\w+)=(.*)$/m.exec(unit)!;
    // What systemd gives it: no CCM_SYNC_DATABASE_URL in the environment, only the unit's.
    const child = spawn(exec[0]!, exec.slice(1), { env: { PATH: process.env.PATH, HOME: userHome, [pinned[1]!]: pinned[2]! }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await until(() => /daemon running/.test(out), 'the daemon to start', scaled(90_000));
      expect((await runCli(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', 'svc-1', '--data', '{"title":"from the service"}'], { env: env.env })).code).toBe(0);
      const sync = await runCli(['sync', 'now', '--json'], { env: env.env });
      expect(sync.code, sync.stderr).toBe(0);
      expect(JSON.parse(sync.stdout).via).toMatch(/^daemon pid/);
      expect(await db.query("select title from tasks where id = 'svc-1'")).toEqual([{ title: 'from the service' }]);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('will not start a daemon that could never sync: install warns, and the unit\'s daemon without its secrets exits 2 naming them', async () => {
    // No CCM_SYNC_DATABASE_URL where install runs: the unit is written, with a warning.
    const dry = await run(['install', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).warnings).toEqual([expect.stringMatching(/CCM_SYNC_DATABASE_URL is not set.*service install` again/)]);
    const unit = readFileSync(unitFile(), 'utf8');
    const exec = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(' ');
    const pinned = /^Environment=(\w+)=(.*)$/m.exec(unit)!;
    const unitEnv = { PATH: process.env.PATH, HOME: userHome, [pinned[1]!]: pinned[2]! };
    const secrets = readFileSync(envFile(), 'utf8');
    try {
      rmSync(envFile());
      const refused = spawnSync(exec[0]!, exec.slice(1), { env: unitEnv, encoding: 'utf8', timeout: scaled(60_000) });
      expect(refused.status, refused.stderr).toBe(2);
      expect(refused.stderr).toMatch(/CCM_SYNC_DATABASE_URL is not set.*The secrets file .*service\.env does not exist/);
    } finally {
      writeFileSync(envFile(), secrets, { mode: 0o600 });
    }
    // A unit written before the option was renamed (start --env-file) still runs; a line of the
    // secrets file that is not KEY=value is said to be skipped, without its text.
    writeFileSync(envFile(), `${secrets}NOT A LINE hunter2\n`, { mode: 0o600 });
    const old = spawn(exec[0]!, [...exec.slice(1, -2), '--env-file', envFile()], { env: unitEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    old.stdout.on('data', (d: Buffer) => (out += d));
    old.stderr.on('data', (d: Buffer) => (err += d));
    const exited = new Promise<number | null>((resolve) => old.on('exit', resolve));
    try {
      await until(() => /daemon running/.test(out), 'the daemon of a unit that says --env-file to start', scaled(90_000));
    } finally {
      old.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(err).toMatch(new RegExp(`line ${secrets.split('\n').length} of .*service\\.env is not KEY=value, and is ignored`));
    expect(err).not.toContain('hunter2');
    writeFileSync(envFile(), secrets, { mode: 0o600 });
  });

  it('uninstalls only what install wrote, and will not overwrite a unit of someone else\'s', async () => {
    const r = await run(['uninstall', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).removed).toEqual([unitFile(), envFile()]);
    expect(readdirSync(unitDir)).toEqual(['backup.service']);
    writeFileSync(unitFile(), '[Service]\nExecStart=/usr/bin/true\n');
    const refused = await run(['install', '--no-start']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/ccm-sync\.service exists and was not written by ccm-sync/);
    expect((await run(['uninstall'])).stdout).toMatch(/nothing of ccm-sync's at/);
    expect(readFileSync(unitFile(), 'utf8')).toBe('[Service]\nExecStart=/usr/bin/true\n');
  });

  it('writes a system unit run as the home\'s owner, and a launchd agent for macOS', async () => {
    const sys = await run(['install', '--system', '--dry-run', '--json']);
    expect(sys.code, sys.stderr).toBe(0);
    const text = JSON.parse(sys.stdout).unit_text as string;
    expect(text).toMatch(/^User=root$/m); // the test's home belongs to root
    expect(text).toContain('WantedBy=multi-user.target');
    const plist = launchdPlist({ name: 'ccm-sync', node: '/opt/node/bin/node', cli: '/opt/ccm/dist/cli/main.js', home: '/Users/a/.ccm-global', envFile: '/Users/a/.ccm-global/service.env', version: '0.2.0' }, 'dev.ccm-sync.ccm-sync', '/Users/a/.ccm-global/logs');
    for (const k of ['<key>KeepAlive</key>', '<key>RunAtLoad</key>', '<string>--secrets-file</string>', '<string>/Users/a/.ccm-global/logs/daemon.log</string>', '<key>CCM_SYNC_HOME</key>']) expect(plist).toContain(k);
    // Well formed: every tag closes in order.
    const stack: string[] = [];
    for (const m of plist.replace(/<\?xml[^>]*>|<!DOCTYPE[^>]*>|<!--[\s\S]*?-->/g, '').matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
      if (m[3]) continue;
      if (m[1]) expect(stack.pop()).toBe(m[2]);
      else stack.push(m[2]!);
    }
    expect(stack).toEqual([]);
  });
});
