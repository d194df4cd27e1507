/**
 * The machine's home: found like git finds a repository, created only by commands that record
 * (saying so), never by commands that look; its config cache keyed on what it depends on; and
 * every file in it private to its owner, whatever the umask.
 */
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nearestHome } from '../src/config/home.ts';
import { CLI, childEnv, runCli } from './helpers/cli.ts';
import { until } from './helpers/wait.ts';

const roots: string[] = [];
/** A fresh folder with a project tree and a separate $HOME, neither holding a home yet. */
function scene() {
  const root = mkdtempSync(path.join(tmpdir(), 'ccm-home-test-'));
  roots.push(root);
  const project = path.join(root, 'project');
  const deeper = path.join(project, 'sub', 'deeper');
  const home = path.join(root, 'user');
  mkdirSync(deeper, { recursive: true });
  mkdirSync(home);
  expect(nearestHome(deeper), 'a .ccm-global above the temp folder would change what this test sees').toBeUndefined();
  return { root, project, deeper, home, env: { HOME: home } };
}
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** Every path under `dir`, relative, sorted. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

const enqueueArgs = (id: string) => ['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', id, '--data', '{"status":"done"}'];

describe('finding the home', () => {
  it('uses the nearest .ccm-global above the working directory, as the daemon does', async () => {
    const s = scene();
    const init = await runCli(['init', '--system-id', 'proj-1'], { cwd: s.project, env: s.env });
    expect(init.code).toBe(0);
    const r = await runCli(enqueueArgs('1'), { cwd: s.deeper, env: s.env });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(tree(path.join(s.project, 'sub'))).toEqual(['deeper']);
    const where = JSON.parse((await runCli(['where', '--json'], { cwd: s.deeper, env: s.env })).stdout);
    expect(where.home).toEqual({ path: path.join(s.project, '.ccm-global'), exists: true, found_by: 'nearest .ccm-global' });
    expect(where.system_id).toBe('proj-1');
    expect(where.database.exists).toBe(true);
    const status = JSON.parse((await runCli(['sync', 'status', '--json'], { cwd: s.project, env: s.env })).stdout);
    expect(status.pending.total).toBe(1);
  });

  it('falls back to one per-user home, creating it once and saying so on stderr', async () => {
    const s = scene();
    const first = await runCli([...enqueueArgs('1'), '--json'], { cwd: s.deeper, env: s.env });
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/created .*user\/\.ccm-global \(no \.ccm-global directory here or above; using the per-user home\)/);
    expect(JSON.parse(first.stdout).recorded).toBe(1); // stdout stays clean for scripts
    const second = await runCli(enqueueArgs('2'), { cwd: s.project, env: s.env });
    expect(second.stderr).toBe('');
    expect(tree(s.project)).toEqual(['sub', path.join('sub', 'deeper')]);
    const status = JSON.parse((await runCli(['sync', 'status', '--json'], { cwd: s.root, env: s.env })).stdout);
    expect(status.pending.total).toBe(2);
  });

  it('init checks the system id before writing, and says when a folder changes homes', async () => {
    const s = scene();
    let r = await runCli(['init', '--system-id', 'has space'], { cwd: s.project, env: s.env });
    expect(r.code).toBe(2);
    expect(tree(s.project)).toEqual(['sub', path.join('sub', 'deeper')]);
    await runCli(enqueueArgs('1'), { cwd: s.project, env: s.env }); // the per-user home, in use
    r = await runCli(['init', '--system-id', '42', '--json'], { cwd: s.project, env: s.env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).previous_home).toBe(path.join(s.home, '.ccm-global'));
    expect(r.stderr).toMatch(/used .*user\/\.ccm-global until now; they use .*project\/\.ccm-global from now on/);
    const where = JSON.parse((await runCli(['where', '--json'], { cwd: s.deeper, env: s.env })).stdout);
    expect(where.system_id).toBe('42');
  });

  it('takes CCM_SYNC_HOME and CCM_SYNC_CONFIG before any .ccm-global', async () => {
    const s = scene();
    await runCli(['init'], { cwd: s.project, env: s.env });
    const elsewhere = path.join(s.root, 'srv', 'ccm');
    let r = await runCli(enqueueArgs('1'), { cwd: s.deeper, env: { ...s.env, CCM_SYNC_HOME: elsewhere } });
    expect(r.code).toBe(0);
    expect(existsSync(path.join(elsewhere, 'ccm.db'))).toBe(true);
    expect(existsSync(path.join(s.project, '.ccm-global', 'ccm.db'))).toBe(false);
    r = await runCli(['where', '--json'], { cwd: s.deeper, env: { ...s.env, CCM_SYNC_CONFIG: path.join(s.project, '.ccm-global', 'config.yaml') } });
    expect(JSON.parse(r.stdout).home.found_by).toBe('CCM_SYNC_CONFIG');
    r = await runCli(['where'], { cwd: s.deeper, env: { ...s.env, CCM_SYNC_CONFIG: path.join(s.root, 'nope.yaml') } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.yaml \(from CCM_SYNC_CONFIG\) does not exist/);
  });

  it('passes over a .ccm-global in a folder every user can write, as git does, and init refuses to make one there', async () => {
    const s = scene();
    const shared = path.join(s.root, 'shared');
    mkdirSync(path.join(shared, '.ccm-global'), { recursive: true });
    chmodSync(shared, 0o1777); // like /tmp
    const below = path.join(shared, 'work');
    mkdirSync(below);
    const r = await runCli(['where', '--json'], { cwd: below, env: s.env });
    const where = JSON.parse(r.stdout);
    expect(where.home).toMatchObject({ path: path.join(s.home, '.ccm-global'), found_by: 'per-user default' });
    expect(where.skipped_homes).toEqual([`${path.join(shared, '.ccm-global')} is in ${shared}, which every user can write`]);
    expect((await runCli(['where'], { cwd: below, env: s.env })).stdout).toMatch(/Skipped .*every user can write: not used/);
    const init = await runCli(['init'], { cwd: shared, env: s.env });
    expect(init.code).toBe(2);
    expect(init.stderr).toMatch(/can be written by every user.*run init in a folder of your own, or pass --user/);
    chmodSync(shared, 0o755);
    expect(JSON.parse((await runCli(['where', '--json'], { cwd: below, env: s.env })).stdout).home.path).toBe(path.join(shared, '.ccm-global'));
  });

  it('creates nothing when a command only looks', async () => {
    const s = scene();
    const looks = [
      ['sync', 'status'], ['sync', 'status', '--json'], ['sync', 'health'], ['failed', 'list'], ['failed', 'show', '1'], ['alerts'],
      ['conflicts', 'list'], ['where'], ['tables'], ['config', 'reference'], ['config', 'show'], ['remote', 'sql'], ['tui', '--once'],
      ['remote', 'query', 'select 1'], ['fleet'], ['fleet', '--json'], ['hook', 'status'],
    ];
    for (const args of looks) {
      const r = await runCli(args, { cwd: s.deeper, env: s.env });
      expect(r.stderr, args.join(' ')).not.toMatch(/created/);
      expect(tree(s.root), args.join(' ')).toEqual(['project', 'user', path.join('project', 'sub'), path.join('project', 'sub', 'deeper')].sort());
    }
    // A config file outside any home, looked at: nothing appears beside it either.
    const cfgDir = path.join(s.root, 'cfg');
    mkdirSync(cfgDir);
    writeFileSync(path.join(cfgDir, 'ccm.yaml'), 'log_level: silent\n');
    for (const args of [['where'], ['sync', 'status'], ['config', 'show']]) await runCli([...args, '--config', path.join(cfgDir, 'ccm.yaml')], { cwd: s.deeper, env: s.env });
    expect(tree(cfgDir)).toEqual(['ccm.yaml']);
    const q = await runCli(['remote', 'query', 'select 1'], { cwd: s.deeper, env: s.env });
    expect(q.code).toBe(2);
    expect(q.stderr).toMatch(/no embedded remote at .* yet/);
  });
});

describe('the config cache', () => {
  /** A copy of the built package whose presets and version the test may change. */
  function packageCopy(root: string): { cli: string; dir: string } {
    const dir = path.join(root, 'pkg');
    const repo = path.resolve(import.meta.dirname, '..');
    for (const part of ['dist', 'config', 'vendor', 'package.json']) cpSync(path.join(repo, part), path.join(dir, part), { recursive: true });
    symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
    return { cli: path.join(dir, 'dist', 'cli', 'main.js'), dir };
  }
  const run = (cli: string, args: string[], env: NodeJS.ProcessEnv) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [cli, ...args], { env: childEnv(env) });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${out}`))));
    });

  it('lives in the home and follows the config, the shipped presets and the version', async () => {
    const s = scene();
    const { cli, dir } = packageCopy(s.root);
    await runCli(['init'], { cwd: s.project, env: s.env });
    const env = { ...s.env, CCM_SYNC_CONFIG: path.join(s.project, '.ccm-global', 'config.yaml') };
    await runCli(enqueueArgs('c1'), { env }); // a home in use (it has a database) keeps a cache
    const interval = async () => JSON.parse(await run(cli, ['config', 'show', '--json'], env)).sync.intervals.default as number;
    const cacheFile = path.join(s.project, '.ccm-global', 'cache', 'config.json');
    const key = () => (JSON.parse(readFileSync(cacheFile, 'utf8')) as { key: string }).key;

    expect(await interval()).toBe(1800);
    const k1 = key();
    const preset = path.join(dir, 'config', 'modes', 'adaptive.yaml');
    writeFileSync(preset, readFileSync(preset, 'utf8').replace(/default: 1800/, 'default: 1700'));
    expect(await interval()).toBe(1700);
    const k2 = key();
    expect(k2).not.toBe(k1);

    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...pkg, version: '9.9.9' }));
    await interval();
    expect(key()).not.toBe(k2);

    // A cache whose contents do not match its checksum is not used.
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8'));
    cached.config.sync.intervals.default = 5;
    writeFileSync(cacheFile, JSON.stringify(cached));
    expect(await interval()).toBe(1700);
    // The cache is the home's: one file in its cache folder, nothing beside the config elsewhere.
    expect(readdirSync(path.join(s.project, '.ccm-global', 'cache'))).toEqual(['config.json']);
  });
});

describe('file modes', () => {
  it('keeps the home, the databases and the embedded remote private under a umask of 022', async () => {
    const s = scene();
    const sh = (cmd: string) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn('sh', ['-c', `umask 022; ${cmd}`], { cwd: s.deeper, env: childEnv(s.env) });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d));
        child.stderr.on('data', (d: Buffer) => (out += d));
        child.on('close', (code) => resolve({ code, out }));
      });
    const q = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
    const node = `${q(process.execPath)} ${q(CLI)}`;
    const recorded = await sh(`${node} ${enqueueArgs('m1').map(q).join(' ')} && ${node} sync now`);
    expect(recorded.code, recorded.out).toBe(0);
    // The daemon creates jobs.db and the API token; run it briefly.
    const home = path.join(s.home, '.ccm-global');
    writeFileSync(path.join(home, 'config.yaml'), 'api:\n  port: 0\nlog_level: silent\n');
    const daemon = spawn('sh', ['-c', `umask 022; exec ${node} start --json`], { cwd: s.deeper, env: childEnv(s.env) });
    await until(() => existsSync(path.join(home, 'jobs.db')) && existsSync(path.join(home, 'api.token')), 'the daemon to start', 20_000);
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('close', r));

    const loose: string[] = [];
    const check = (p: string) => {
      const st = statSync(p);
      const want = st.isDirectory() ? 0o700 : 0o600;
      if ((st.mode & 0o777) !== want) loose.push(`${path.relative(s.home, p)} ${(st.mode & 0o777).toString(8)}`);
    };
    check(home);
    for (const rel of tree(home)) {
      if (rel === 'config.yaml') continue; // written by this test
      check(path.join(home, rel));
    }
    expect(loose).toEqual([]);
    expect(tree(home)).toEqual(expect.arrayContaining(['ccm.db', 'jobs.db', 'api.token', path.join('cache', 'config.json'), path.join('remote', 'pg_hba.conf')]));
  });
});

describe('the system id', () => {
  it("defaults to this machine's hostname, and init writes it, so two machines never merge", async () => {
    const { hostname } = await import('node:os');
    const { defaultSystemId } = await import('../src/config/schema.ts');
    expect(defaultSystemId('build box #7.example.com')).toBe('build-box-7.example.com');
    expect(defaultSystemId('  ')).toBe('host');
    const dir = mkdtempSync(path.join(tmpdir(), 'ccm-sysid-'));
    try {
      mkdirSync(path.join(dir, '.ccm-global'));
      writeFileSync(path.join(dir, '.ccm-global', 'config.yaml'), 'log_level: silent\n');
      const where = await runCli(['where', '--json'], { env: { CCM_SYNC_CONFIG: path.join(dir, '.ccm-global', 'config.yaml') } });
      expect(JSON.parse(where.stdout).system_id).toBe(defaultSystemId(hostname()));
      const fresh = path.join(dir, 'fresh');
      mkdirSync(fresh);
      expect((await runCli(['init'], { cwd: fresh })).code).toBe(0);
      expect(readFileSync(path.join(fresh, '.ccm-global', 'config.yaml'), 'utf8')).toContain(`id: ${JSON.stringify(defaultSystemId(hostname()))}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Node's compile cache", () => {
  it("goes to a private folder of this user's, never to the shared one, nor into the home", async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'ccm-cc-home-'));
    const tmp = mkdtempSync(path.join(tmpdir(), 'ccm-cc-tmp-'));
    try {
      expect((await runCli(['where'], { env: { HOME: home, TMPDIR: tmp } })).code).toBe(0);
      const mine = path.join(tmp, `ccm-sync-${process.getuid?.()}`);
      expect(statSync(mine).mode & 0o777).toBe(0o700);
      expect(readdirSync(path.join(mine, 'node-compile-cache')).length).toBeGreaterThan(0);
      expect(existsSync(path.join(tmp, 'node-compile-cache'))).toBe(false);
      expect(readdirSync(home)).toEqual([]); // nothing in the user's home
      // A folder of that name made by someone else (here: made 0755) is not used.
      const other = mkdtempSync(path.join(tmpdir(), 'ccm-cc-other-'));
      mkdirSync(path.join(other, `ccm-sync-${process.getuid?.()}`), { mode: 0o755 });
      chmodSync(path.join(other, `ccm-sync-${process.getuid?.()}`), 0o755);
      expect((await runCli(['where'], { env: { HOME: home, TMPDIR: other } })).code).toBe(0);
      expect(readdirSync(path.join(other, `ccm-sync-${process.getuid?.()}`))).toEqual([]);
      rmSync(other, { recursive: true, force: true });
    } finally {
      rmSync(home, { recursive: true, force: true });
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
