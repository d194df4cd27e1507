/** The CLI as a user meets it: real processes, real files, the embedded default remote. */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEnv, type TestEnv } from './helpers/env.ts';
import { NOBODY, runCli, traversableDir } from './helpers/cli.ts';

let env: TestEnv;
const pending = () => {
  const db = new Database(env.settings.paths.db, { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM sync_queue WHERE status = 'pending'").get() as { n: number }).n;
  } finally {
    db.close();
  }
};

beforeAll(() => {
  env = makeEnv();
});
afterAll(() => env.cleanup());

describe('ccm-sync CLI', () => {
  it('records, syncs to the embedded remote, and reports status', async () => {
    const e1 = await runCli(['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', '123', '--data', '{"status":"complete"}'], { env: env.env });
    expect(e1.stderr).toBe('');
    expect(e1.code).toBe(0);
    const e2 = await runCli(['enqueue', '--stdin', '--json'], {
      env: env.env,
      input: [
        '{"operation":"INSERT","table_name":"tasks","record_id":"9","record_data":{"title":"t"},"priority":"urgent"}',
        '{"operation":"INSERT","table_name":"hook_events","record_id":"ev1","record_data":{"task_id":"9","tool_name":"Bash","tool_input":{"command":"ls"}}}',
      ].join('\n'),
    });
    expect(JSON.parse(e2.stdout)).toMatchObject({ recorded: 2, pending: 3 });
    const now = await runCli(['sync', 'now', '--json'], { env: env.env });
    expect(now.code).toBe(0);
    expect(JSON.parse(now.stdout)).toMatchObject({ status: 'synced', operations_synced: 3 });
    expect(pending()).toBe(0);
    const again = await runCli(['sync', 'now', '--json'], { env: env.env });
    expect(JSON.parse(again.stdout).status).toBe('nothing_to_sync');
    const status = await runCli(['sync', 'status'], { env: env.env });
    expect(status.stdout).toMatch(/^Pending operations: 0/m);
    expect(status.stdout).toMatch(/^Last sync: \d+ seconds? ago \(manual/m);
    const health = await runCli(['sync', 'health', '--days', '1'], { env: env.env });
    expect(health.stdout).toMatch(/Date\s+\| Syncs \| Operations \| Avg Duration \| Failures/);
  });

  it.each([
    [['enqueue', '--op', 'UPDATE', '--table', 'nope', '--id', '1', '--data', '{}'], /unknown table "nope"/],
    [['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', '1', '--data', '{oops'], /--data is not valid JSON/],
    [['enqueue', '--op', 'UPSERT', '--table', 'tasks', '--id', '1', '--data', '{}'], /operation must be one of INSERT, UPDATE, DELETE/],
    [['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', '1', '--data', '{}', '--priority', 'asap'], /--priority must be one of/],
    [['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', '1', '--bogus'], /Unknown option '--bogus'/],
    [['sync', 'now', '--bogus'], /unknown option '--bogus'/],
    [['sync', 'drain', '--batch-size', '0'], /--batch-size must be a positive whole number/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ])('rejects bad input %j with exit 2 and queues nothing', async (args, message) => {
    const before = pending();
    const r = await runCli(args, { env: env.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(pending()).toBe(before);
  });

  it('rejects NDJSON as a whole and names the bad line', async () => {
    const before = pending();
    const r = await runCli(['enqueue', '--stdin'], {
      env: env.env,
      input: '{"operation":"INSERT","table_name":"tasks","record_id":"1","record_data":{}}\n{"operation":"INSERT","table_name":"tasks","record_id":"2","record_data":{}}\nnot json\n{oops\n',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/2 lines of the input are not JSON; nothing was recorded:\n {2}line 3: invalid JSON .*\n {2}line 4: invalid JSON/);
    const r2 = await runCli(['enqueue', '--stdin'], {
      env: env.env,
      input: '{"operation":"INSERT","table_name":"tasks","record_id":"1","record_data":{}}\n{"operation":"INSERT","table_name":"bogus","record_id":"2","record_data":{}}\n{"operation":"UPSERT","table_name":"tasks","record_id":"3","record_data":{}}\n',
    });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/2 of 3 operations are refused; nothing was recorded:\n {2}line 2: unknown table "bogus".*\n {2}line 3: /);
    expect(pending()).toBe(before);
  });

  it('rejects an oversized record with the size and the limit', async () => {
    const big = { operation: 'INSERT', table_name: 'tasks', record_id: 'big', record_data: { description: 'x'.repeat(1_100_000) } };
    const r = await runCli(['enqueue', '--stdin'], { env: env.env, input: `${JSON.stringify(big)}\n` });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/line 1: record_data is \d+ bytes, over the \d+-byte limit/);
  });

  it('names every bad key of a config at once, and where a YAML error is, with exit 2', async () => {
    const bad = makeEnv();
    try {
      writeFileSync(bad.configPath, 'sync:\n  mode: turbo\n  colour: blue\n  thresholds:\n    max_pending_operations: -3\napi:\n  port: "x"\nsystem:\n  id: "has space"\n');
      let r = await runCli(['sync', 'status'], { env: bad.env });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/\(5 problems\)/);
      expect(r.stderr).toMatch(/sync\.mode: expected adaptive, aggressive or conservative, got "turbo"/);
      expect(r.stderr).toMatch(/sync: unknown key colour/);
      expect(r.stderr).toMatch(/sync\.thresholds\.max_pending_operations: Too small/);
      expect(r.stderr).toMatch(/api\.port: /);
      expect(r.stderr).toMatch(/system\.id: letters, digits/);
      r = await runCli(['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', '1', '--data', '{}'], { env: bad.env });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/\(5 problems\)/);
      // A section that is not a mapping is refused too; it was taken for the defaults.
      writeFileSync(bad.configPath, 'sync: aggressive\n');
      r = await runCli(['config', 'show'], { env: bad.env });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/sync: expected a mapping of settings, such as "sync: \{mode: aggressive\}", got "aggressive"/);
      writeFileSync(bad.configPath, 'system:\n  id: a\n bad: [1,\n');
      r = await runCli(['sync', 'status'], { env: bad.env });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/is not valid YAML at line 3, column 1: \S/);
      expect(r.stderr).toContain('  3 |  bad: [1,');
      r = await runCli(['sync', 'status', '--config', path.join(bad.dir, 'missing.yaml')], { env: {} });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/does not exist; create one with `ccm-sync init/);
    } finally {
      bad.cleanup();
    }
  });

  it('reports a read-only database as not recorded, exit 1', async () => {
    const shared = traversableDir(); // the other user must reach the home, wherever TMPDIR is
    const ro = makeEnv({}, {}, { under: shared });
    try {
      await runCli(['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', '1', '--data', '{}'], { env: ro.env });
      // Root ignores file modes, so the writer is someone else: the database is theirs to read only.
      for (const d of [ro.dir, path.dirname(ro.settings.paths.db)]) chmodSync(d, 0o777);
      chmodSync(ro.settings.paths.db, 0o444);
      const r = await runCli(['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', '2', '--data', '{}'], { env: ro.env, as: NOBODY });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/read-only; nothing was recorded/);
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  });

  it('looks at a home it may not write: sync status reads a copy, remote query says why it cannot', async () => {
    const shared = traversableDir();
    const ro = makeEnv({}, {}, { under: shared });
    try {
      await runCli(['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', '1', '--data', '{"title":"mine"}'], { env: ro.env });
      expect((await runCli(['sync', 'now'], { env: ro.env })).code).toBe(0);
      await runCli(['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', '2', '--data', '{}'], { env: ro.env });
      // A home this user can read but not write, as on a read-only mount: its folders 0755 and its
      // database 0644 (root ignores modes, so the reader is another user).
      for (const d of [ro.dir, path.dirname(ro.settings.paths.db)]) chmodSync(d, 0o755);
      chmodSync(ro.settings.paths.db, 0o644);
      const tmp = path.join(shared, 'tmp'); // that user's own TMPDIR
      mkdirSync(tmp);
      chmodSync(tmp, 0o1777);
      const status = await runCli(['sync', 'status', '--json'], { env: { ...ro.env, TMPDIR: tmp }, as: NOBODY });
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ pending: { total: 1 }, last_sync: { operations: 1 } });
      const q = await runCli(['remote', 'query', 'select 1'], { env: { ...ro.env, TMPDIR: tmp }, as: NOBODY });
      expect(q.code).toBe(2);
      expect(q.stderr).toMatch(/cannot be opened from here: its folder is read-only to this user \(EACCES\), and PGlite writes as it reads/);
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  });

  it('refuses two configs in one folder that would share one outbox', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ccm-two-'));
    try {
      writeFileSync(path.join(dir, 'prod.yaml'), 'system: { id: prod-1 }\nlog_level: silent\n');
      writeFileSync(path.join(dir, 'staging.yaml'), 'system: { id: staging-1 }\nlog_level: silent\n');
      const r = await runCli(['enqueue', '--config', path.join(dir, 'staging.yaml'), '--op', 'INSERT', '--table', 'tasks', '--id', '1', '--data', '{}']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/staging\.yaml and .*prod\.yaml are both ccm-sync configs in .*: they would share one outbox .*Give each config a folder of its own, or set store\.path/);
      expect(existsSync(path.join(dir, 'ccm.db'))).toBe(false);
      // One with a store of its own is fine.
      writeFileSync(path.join(dir, 'prod.yaml'), 'system: { id: prod-1 }\nlog_level: silent\nstore: { path: prod.db, jobs_path: prod-jobs.db }\n');
      expect((await runCli(['enqueue', '--config', path.join(dir, 'staging.yaml'), '--op', 'INSERT', '--table', 'tasks', '--id', '1', '--data', '{}'])).code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('explains itself in --help', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/record → outbox → trigger → sync job → package → upload → settle/);
    const e = await runCli(['enqueue', '--help']);
    expect(e.stdout).toMatch(/--priority <priority>/);
    expect(e.stdout).toMatch(/--stdin/);
  });

  it('writes a starter config with init and refuses to overwrite it', async () => {
    const dir = path.join(env.dir, 'fresh');
    mkdirSync(dir);
    const r = await runCli(['init', '--system-id', 'box-1'], { cwd: dir });
    expect(r.code).toBe(0);
    const again = await runCli(['init'], { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists; pass --force/);
  });
});
