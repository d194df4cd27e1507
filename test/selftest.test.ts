/**
 * What a person runs: `ccm-sync test offline` against a running daemon, poison operations and
 * `sync retry-failed`, several processes enqueueing while the daemon drains, and disk trouble.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { makeEnv } from './helpers/env.ts';
import { runCli } from './helpers/cli.ts';
import { startDaemonProcess } from './helpers/daemon-process.ts';
import { scaled, until } from './helpers/wait.ts';
import { pgTest } from './helpers/fixtures.ts';

const statusCounts = (file: string) => {
  const d = new Database(file, { readonly: true });
  try {
    return Object.fromEntries((d.prepare('SELECT status, count(*) AS n FROM sync_queue GROUP BY status').all() as { status: string; n: number }[]).map((r) => [r.status, r.n]));
  } finally {
    d.close();
  }
};

describe('self-tests and faults a person meets', () => {
  pgTest('`test offline` queues through a simulated outage and verifies every operation on the remote', async ({ db }) => {
    const env = makeEnv({ remote: { kind: 'postgres' }, offline: { probe_initial_ms: 200, probe_max_ms: 500 }, sync: { intervals: { default: 3600 } } }, { CCM_SYNC_DATABASE_URL: db.url });
    const daemon = await startDaemonProcess(env.env);
    try {
      const r = await runCli(['test', 'offline', '--duration', '2s', '--workload', '200', '--json'], { env: env.env, timeoutMs: 60_000 });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report).toMatchObject({ generated: 200, verification: 'passed', missing_on_remote: 0, not_synced: 0 });
      // The drain follows the end of the window: the syncs skipped during the simulated outage are
      // not failures, so the probe is not pushed back (it used to take minutes for a window of
      // seconds). The connection went offline once, and came back through one drain.
      const d = new Database(env.settings.paths.db, { readonly: true });
      const states = (d.prepare("SELECT record_data FROM sync_queue WHERE table_name = 'system_status' AND record_id LIKE 'connection-%' ORDER BY id").all() as { record_data: string }[]).map((r) => JSON.parse(r.record_data).state);
      d.close();
      expect(states).toEqual(['offline', 'draining', 'online']);
      expect(report.queued).toBeGreaterThanOrEqual(200);
      const remote = await db.query<{ n: string }>("select count(*) n from tasks where system_id = $1 and id like 'offline-%'", [env.systemId]);
      expect(Number(remote[0]!.n)).toBe(200);
      // Without --workload it still checks something: one operation a second, at least 20.
      const dflt = await runCli(['test', 'offline', '--duration', '1s', '--json'], { env: env.env, timeoutMs: 60_000 });
      expect(dflt.code, dflt.stderr).toBe(0);
      expect(JSON.parse(dflt.stdout)).toMatchObject({ generated: 20, verification: 'passed' });
      const bad = await runCli(['test', 'offline', '--duration', '2 minutes'], { env: env.env });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--duration must be a number with a unit/);
    } finally {
      await daemon.stop();
      env.cleanup();
    }
    const none = makeEnv();
    const r = await runCli(['test', 'offline', '--duration', '1s'], { env: none.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/needs a running daemon; start one with `ccm-sync start`/);
    none.cleanup();
  });

  pgTest('dead-letters a remote refusal at once, says so everywhere, and repairs it with failed retry', async ({ db }) => {
    const env = makeEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: db.url });
    await db.query("alter table tasks add constraint ccm_selftest_title check (title is distinct from 'poison')");
    try {
      const lines = [
        { operation: 'INSERT', table_name: 'tasks', record_id: 'good-1', record_data: { title: 'ok' } },
        { operation: 'INSERT', table_name: 'tasks', record_id: 'poison-1', record_data: { title: 'poison' } },
        { operation: 'INSERT', table_name: 'tasks', record_id: 'good-2', record_data: { title: 'ok' } },
      ].map((o) => JSON.stringify(o)).join('\n');
      await runCli(['enqueue', '--stdin'], { env: env.env, input: lines });
      const now = await runCli(['sync', 'now', '--json'], { env: env.env });
      expect(now.code).toBe(1);
      expect(JSON.parse(now.stdout)).toMatchObject({ status: 'partial', operations_synced: 2, details: { operations_failed: 1, held: { failed: 1 } } });
      expect(statusCounts(env.settings.paths.db)).toEqual({ synced: 2, failed: 1 });
      const human = await runCli(['sync', 'now'], { env: env.env });
      expect(human.code).toBe(1);
      expect(human.stdout).toMatch(/nothing sent[\s\S]*1 failed \(dead letters, not retried\)[\s\S]*1 × rejected by the remote \(23514\)/);
      const status = JSON.parse((await runCli(['sync', 'status', '--json'], { env: env.env })).stdout);
      expect(status).toMatchObject({ failed: 1, failed_reasons: [{ code: '23514', count: 1 }] });
      expect(status.alerts.map((a: { rule: string }) => a.rule)).toContain('operations_failed');
      const list = JSON.parse((await runCli(['failed', 'list', '--json'], { env: env.env })).stdout);
      expect(list.operations.map((o: { record_id: string }) => o.record_id)).toEqual(['poison-1']);
      // The fix: the remote learns to accept it. Retrying warns that the data is sent unchanged.
      await db.query('alter table tasks drop constraint ccm_selftest_title');
      const retry = await runCli(['failed', 'retry', '--all', '--json'], { env: env.env });
      expect(JSON.parse(retry.stdout)).toMatchObject({ requeued: [expect.any(Number)] });
      expect(retry.stderr).toMatch(/warning: #\d+ was refused by the remote \(23514\) and is sent again unchanged/);
      const again = await runCli(['sync', 'now'], { env: env.env });
      expect(again.code).toBe(0);
      expect(statusCounts(env.settings.paths.db)).toEqual({ synced: 3 });
      expect((await runCli(['alerts'], { env: env.env })).code).toBe(0);
    } finally {
      await db.query('alter table tasks drop constraint if exists ccm_selftest_title');
      env.cleanup();
    }
  });

  pgTest('takes concurrent enqueuers while the daemon drains: no SQLITE_BUSY, nothing lost', async ({ db }) => {
    const env = makeEnv({ remote: { kind: 'postgres' }, sync: { intervals: { default: 3600 } } }, { CCM_SYNC_DATABASE_URL: db.url });
    const daemon = await startDaemonProcess(env.env);
    try {
      const writers = Array.from({ length: 4 }, (_, w) =>
        (async () => {
          const errors: string[] = [];
          for (let b = 0; b < 10; b++) {
            const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ operation: 'INSERT', table_name: 'tasks', record_id: `cc-${w}-${b}-${i}`, record_data: { title: 'c' } })).join('\n');
            const r = await runCli(['enqueue', '--stdin'], { env: env.env, input: lines });
            if (r.code !== 0) errors.push(r.stderr);
          }
          return errors;
        })(),
      );
      const errors = (await Promise.all(writers)).flat();
      expect(errors).toEqual([]);
      await until(async () => Number((await db.query<{ n: string }>("select count(*) n from tasks where system_id = $1 and id like 'cc-%'", [env.systemId]))[0]!.n) === 2000, 'all 2000 on the remote', 30_000, 200);
      expect(daemon.stderr()).not.toMatch(/SQLITE_BUSY|database is locked/);
    } finally {
      await daemon.stop();
      env.cleanup();
    }
  }, scaled(40_000));

  pgTest.skipIf(process.getuid?.() !== 0)('keeps the daemon running on a full disk, with an alert, and syncs by itself once space is free', async ({ db }) => {
    const mnt = path.join(makeEnv().dir, 'small');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt]);
    const { startDaemon } = await import('../src/daemon/daemon.ts');
    const { loadSettings } = await import('../src/config/load.ts');
    let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
    try {
      mkdirSync(path.join(mnt, '.ccm-global'));
      const config = path.join(mnt, '.ccm-global', 'config.yaml');
      writeFileSync(config, stringify({ system: { id: 'disk-daemon' }, log_level: 'silent', api: { port: 0 }, remote: { kind: 'postgres' }, sync: { intervals: { default: 3600 } } }));
      const env = { CCM_SYNC_CONFIG: config, CCM_SYNC_DATABASE_URL: db.url };
      daemon = await startDaemon(loadSettings({ configPath: config, env }), { alertIntervalMs: 200 });
      for (let i = 0; i < 3; i++) expect((await runCli(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', `full-${i}`, '--data', '{"title":"waits"}'], { env })).code).toBe(0);
      const filler = path.join(mnt, 'filler');
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' });
      } catch {
        // dd ends with ENOSPC: the disk is full, which is the point
      }
      const refused = await runCli(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', 'full-x', '--data', '{}'], { env });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/disk full: nothing was recorded/);
      const hook = await runCli(['hook', 'claude'], { env, input: JSON.stringify({ session_id: 's', hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_input: { command: 'ls' } }) });
      expect(hook.code).toBe(0);
      await expect(daemon.syncNow('manual')).rejects.toThrow(/disk full: the sync could not be queued/);
      const status = JSON.parse((await runCli(['sync', 'status', '--json'], { env })).stdout);
      expect(status.alerts.map((a: { rule: string }) => a.rule)).toContain('disk_full');
      expect(status.hooks.failures).toBeGreaterThan(0); // the hook's loss is counted where status shows it
      expect(status.pending.total).toBe(3);
      rmSync(filler);
      await until(async () => Number((await db.query<{ n: string }>("select count(*) n from tasks where system_id = 'disk-daemon'"))[0]!.n) === 3, 'the daemon to sync by itself once space is free', scaled(20_000));
      const d = new Database(path.join(mnt, '.ccm-global', 'ccm.db'), { readonly: true });
      expect(d.pragma('integrity_check', { simple: true })).toBe('ok');
      d.close();
    } finally {
      await daemon?.stop();
      execFileSync('umount', [mnt]);
      rmSync(path.dirname(mnt), { recursive: true, force: true });
    }
  });

  it.skipIf(process.getuid?.() !== 0)('says clearly when the disk is full or read-only, and records nothing', async () => {
    const mnt = path.join(makeEnv().dir, 'small');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=600k', 'tmpfs', mnt]);
    try {
      mkdirSync(path.join(mnt, '.ccm-global'));
      const config = path.join(mnt, '.ccm-global', 'config.yaml');
      writeFileSync(config, stringify({ system: { id: 'disk-test' } }));
      const env = { CCM_SYNC_CONFIG: config };
      let ok = 0;
      let failure = '';
      for (let i = 0; i < 100 && !failure; i++) {
        const r = await runCli(['enqueue', '--stdin'], { env, input: `${JSON.stringify({ operation: 'INSERT', table_name: 'tasks', record_id: `d${i}`, record_data: { description: 'x'.repeat(60_000) } })}\n` });
        if (r.code === 0) ok++;
        else {
          expect(r.code).toBe(1);
          failure = r.stderr;
        }
      }
      expect(failure).toMatch(/disk full: nothing was recorded \(.* is on a full disk\)/);
      const d = new Database(path.join(mnt, '.ccm-global', 'ccm.db'), { readonly: true });
      expect((d.prepare('SELECT count(*) AS n FROM sync_queue').get() as { n: number }).n).toBe(ok);
      d.close();
      // The embedded remote cannot be created on the full disk: the error says so.
      const created = await runCli(['sync', 'now'], { env });
      expect(created.code).toBe(1);
      expect(created.stderr).toMatch(/disk (is )?full.*ENOSPC/);
      expect(created.stderr).not.toMatch(/Node\.js v\d/);
      execFileSync('mount', ['-o', 'remount,ro', mnt]);
      const ro = await runCli(['enqueue', '--op', 'UPDATE', '--table', 'tasks', '--id', 'x', '--data', '{}'], { env });
      expect(ro.code).toBe(1);
      expect(ro.stderr).toMatch(/read-only; nothing was recorded/);
    } finally {
      execFileSync('umount', [mnt]);
      rmSync(path.dirname(mnt), { recursive: true, force: true });
    }
  });
});
