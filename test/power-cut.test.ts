/**
 * Power cuts, with a real power-cut simulator: the home on LazyFS (./helpers/lazyfs.ts), which
 * drops every write not yet fsynced when told to. Each scenario cuts at a moment it picks (random
 * across runs; the seed is printed, and CCM_TEST_SEED replays one), then: kill -9 of everything
 * on the mount, unmount, reopen the backing folder, check that everything acknowledged is there
 * and that SQLite's integrity check passes, and where a remote is involved drain it and check the
 * ledger holds every acknowledged operation exactly once. Files a person owns are the old whole
 * file or the new whole file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { writeFileDurably } from '../src/store/durable-file.ts';
import { childEnv, CLI, runCli } from './helpers/cli.ts';
import { startDaemonProcess } from './helpers/daemon-process.ts';
import { APPLY_LOG_SQL } from './helpers/fleet.ts';
import { lazyfsMissing, mountLazyFs, type LazyFs } from './helpers/lazyfs.ts';
import { scaled, until } from './helpers/wait.ts';
import { pgTest, type TestDatabase } from './helpers/fixtures.ts';

const missing = lazyfsMissing();
const SEED = Number(process.env.CCM_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
let state = SEED;
/** A small seeded generator (mulberry32), so a failing cut can be replayed with CCM_TEST_SEED. */
function random(): number {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
}

pgTest.beforeAll(async ({ db }) => {
  if (missing) return;
  process.stdout.write(`power-cut tests: seed ${SEED} (CCM_TEST_SEED=${SEED} replays it)\n`);
  await db.query(APPLY_LOG_SQL);
});

/** A home inside `base` (on the mount or the backing folder: the same relative layout). */
function home(db: TestDatabase, base: string, config: Record<string, unknown>) {
  const dir = path.join(base, '.ccm-global');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'config.yaml');
  // On disk before anything runs, as a person's config would be long before a power cut.
  if (!existsSync(file)) writeFileDurably(file, stringify({ log_level: 'silent', api: { port: 0 }, ...config }), { mode: 0o600 });
  return { dir, env: { CCM_SYNC_CONFIG: file, CCM_SYNC_DATABASE_URL: db.url, HOME: base } };
}

/** Runs the CLI, tracked so the cut can kill -9 it; resolves with its exit code. */
function tracked(live: Set<ChildProcess>, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<number | null> {
  const child = spawn(process.execPath, [CLI, ...args], { env: childEnv(env), stdio: ['pipe', 'ignore', 'ignore'] });
  live.add(child);
  child.stdin!.end(input ?? '');
  return new Promise((resolve) => child.once('exit', (code) => {
    live.delete(child);
    resolve(code);
  }));
}

function killAll(live: Set<ChildProcess>): Promise<void> {
  const all = [...live].map((c) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : (c.once('exit', () => r()), c.kill('SIGKILL')))));
  return Promise.all(all).then(() => undefined);
}

function openChecked(file: string): Database.Database {
  const d = new Database(file);
  expect(d.pragma('integrity_check', { simple: true })).toBe('ok');
  return d;
}

async function withMount(fn: (lfs: LazyFs) => Promise<void>): Promise<void> {
  const lfs = await mountLazyFs();
  try {
    await fn(lfs);
  } finally {
    await lfs.destroy();
  }
}

describe.skipIf(missing !== undefined)(`power cuts (LazyFS)${missing ? `: skipped, ${missing}` : ''}`, () => {
  pgTest('keeps every acknowledged enqueue of several processes while the daemon drains, and the remote applies each once', async ({ db }) => {
    await withMount(async (lfs) => {
      const sys = `pc-${SEED.toString(36)}`;
      const h = home(db, lfs.mnt, { system: { id: sys }, remote: { kind: 'postgres' }, sync: { max_ops_per_request: 20, thresholds: { max_pending_operations: 5 } } });
      const daemon = await startDaemonProcess(h.env);
      const live = new Set<ChildProcess>();
      const acked: string[] = [];
      let cutting = false;
      const cutAfter = 15 + Math.floor(random() * 30);
      const writers = [0, 1, 2].map(async (w) => {
        for (let i = 0; !cutting; i++) {
          const id = `w${w}-${i}`;
          const code = await tracked(live, ['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', id, '--data', `{"title":"${id}"}`], h.env);
          if (code === 0 && !cutting) acked.push(id);
        }
      });
      await until(() => acked.length >= cutAfter, `${cutAfter} acknowledged enqueues`, scaled(60_000), 5);
      // Cut while the daemon has synced some of them: a settle may be under way.
      await until(async () => Number((await db.query<{ n: string }>('select count(*) n from tasks where system_id = $1', [sys]))[0]!.n) > 0, 'the drain to start', scaled(30_000), 10);
      const ackedAtCut = acked.length;
      await lfs.cut();
      cutting = true;
      await killAll(live);
      daemon.child.kill('SIGKILL');
      await Promise.all(writers);
      await daemon.stop();
      await lfs.unmount();

      const after = home(db, lfs.root, {});
      const local = openChecked(path.join(after.dir, 'ccm.db'));
      const present = new Set((local.prepare("SELECT record_id FROM sync_queue WHERE table_name = 'tasks'").pluck().all() as string[]));
      local.close();
      expect(acked.slice(0, ackedAtCut).filter((id) => !present.has(id))).toEqual([]);
      const drained = await runCli(['sync', 'now'], { env: after.env, timeoutMs: scaled(60_000) });
      expect(drained.code, drained.stderr).toBe(0);
      const remote = new Set((await db.query<{ id: string }>('select id from tasks where system_id = $1', [sys])).map((r) => r.id));
      expect(acked.slice(0, ackedAtCut).filter((id) => !remote.has(id))).toEqual([]);
      expect(await db.query('select op_id from fleet_apply_log where system_id = $1 group by op_id having count(*) > 1', [sys])).toEqual([]);
    });
  });

  pgTest('keeps every hook event `hook claude` and the http hook acknowledged, with and without a daemon', async ({ db }) => {
    for (const withDaemon of [false, true]) {
      await withMount(async (lfs) => {
        const h = home(db, lfs.mnt, { system: { id: `hk-${withDaemon ? 'd' : 'n'}` }, remote: { kind: 'postgres' }, sync: { enabled: false } });
        const daemon = withDaemon ? await startDaemonProcess(h.env) : undefined;
        const live = new Set<ChildProcess>();
        const acked: string[] = [];
        const n = 5 + Math.floor(random() * 10);
        for (let i = 0; i < n; i++) {
          const marker = `marker-${withDaemon ? 'd' : 'n'}-${i}`;
          const payload = JSON.stringify({ session_id: 's-pc', hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_use_id: `toolu_${marker}`, tool_input: { command: `echo ${marker}` }, tool_response: { stdout: marker }, cwd: lfs.mnt });
          if ((await tracked(live, ['hook', 'claude'], h.env, payload)) === 0) acked.push(marker);
        }
        if (daemon) {
          // And Claude Code's http hook: a 2xx answer is the acknowledgement.
          const token = readFileSync(path.join(h.dir, 'api.token'), 'utf8').trim();
          for (let i = 0; i < n; i++) {
            const marker = `marker-http-${i}`;
            const body = JSON.stringify({ session_id: 's-pc', hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_use_id: `toolu_${marker}`, tool_input: { command: `echo ${marker}` }, tool_response: { stdout: marker }, cwd: lfs.mnt });
            const res = await fetch(`http://127.0.0.1:${daemon.port}/api/hooks/claude`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
            if (res.status >= 200 && res.status < 300) acked.push(marker);
          }
          await new Promise((r) => setTimeout(r, random() * 300)); // the daemon may be recording them
        }
        await lfs.cut();
        daemon?.child.kill('SIGKILL');
        await daemon?.stop();
        await lfs.unmount();

        const after = home(db, lfs.root, {});
        const spool = path.join(after.dir, 'spool', 'claude');
        const spooled = existsSync(spool) ? readdirSync(spool).filter((f) => f.endsWith('.json')).map((f) => readFileSync(path.join(spool, f), 'utf8')) : [];
        for (const text of spooled) expect(() => JSON.parse(text)).not.toThrow();
        let recorded: string[] = [];
        if (existsSync(path.join(after.dir, 'ccm.db'))) {
          const local = openChecked(path.join(after.dir, 'ccm.db'));
          recorded = local.prepare('SELECT payload FROM hook_events').pluck().all() as string[];
          local.close();
        }
        const found = (m: string) => spooled.some((t) => t.includes(`echo ${m}`)) || recorded.some((t) => t.includes(`echo ${m}`));
        expect(acked).toHaveLength(withDaemon ? 2 * n : n);
        expect(acked.filter((m) => !found(m))).toEqual([]);
      });
    }
  });

  it('leaves Claude Code settings that hook install rewrote, its backup, and init\'s config.yaml whole', async () => {
    await withMount(async (lfs) => {
      const claude = path.join(lfs.mnt, '.claude');
      mkdirSync(claude, { recursive: true });
      const mine = { model: 'opus', permissions: { allow: ['Bash(ls:*)'] }, hooks: { Stop: [{ hooks: [{ type: 'command', command: 'my-own-hook' }] }] } };
      const settings = path.join(claude, 'settings.json');
      writeFileSync(settings, JSON.stringify(mine, null, 2));
      // The user's file was on disk before ccm-sync touched it.
      const fd = openSync(settings, 'r+');
      fsyncSync(fd);
      closeSync(fd);
      const env = { HOME: lfs.mnt, CCM_SYNC_CONFIG: path.join(lfs.mnt, 'proj', '.ccm-global', 'config.yaml') };
      mkdirSync(path.join(lfs.mnt, 'proj'), { recursive: true });
      const init = await runCli(['init'], { env, cwd: path.join(lfs.mnt, 'proj') });
      expect(init.code, init.stderr).toBe(0);
      const install = await runCli(['hook', 'install', '--scope', 'user'], { env, cwd: path.join(lfs.mnt, 'proj') });
      expect(install.code, install.stderr).toBe(0);
      await new Promise((r) => setTimeout(r, random() * 100));
      await lfs.cut();
      await lfs.unmount();

      const text = readFileSync(path.join(lfs.root, '.claude', 'settings.json'), 'utf8');
      const after = JSON.parse(text) as typeof mine;
      expect(after.model).toBe('opus');
      expect(after.permissions).toEqual(mine.permissions);
      expect(JSON.stringify(after.hooks)).toContain('my-own-hook');
      expect(JSON.stringify(after.hooks)).toMatch(/hook claude/);
      const backups = path.join(lfs.root, 'proj', '.ccm-global');
      const found = readdirSync(backups, { recursive: true }).map(String).filter((f) => /settings\.json\..*\.json$/.test(f));
      expect(found.length).toBeGreaterThan(0);
      for (const b of found) expect(JSON.parse(readFileSync(path.join(backups, b), 'utf8'))).toEqual(mine);
      const config = readFileSync(path.join(lfs.root, 'proj', '.ccm-global', 'config.yaml'), 'utf8');
      expect(config).toMatch(/^system:/m);
      expect(config.length).toBeGreaterThan(200);
    });
  });
});
