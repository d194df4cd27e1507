/**
 * `ccm-sync tui` in a real terminal (tmux) against a real database and a running daemon: the
 * panels follow what happens, `s` syncs, `q` quits with the terminal restored.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeEnv, type TestEnv } from '../helpers/env.ts';
import { CLI, runCli } from '../helpers/cli.ts';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.ts';
import { until } from '../helpers/wait.ts';
import { pgTest } from '../helpers/fixtures.ts';

const hasTmux = (() => {
  try {
    execFileSync('tmux', ['-V']);
    return true;
  } catch {
    return false;
  }
})();

let env: TestEnv;
let daemon: DaemonProcess;
const session = `ccm-tui-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', session, ...args]).toString();
const screen = () => tmux('capture-pane', '-p', '-t', session);
let raw = '';

/** Types `ccm-sync tui` into the shell of a tmux session, followed by its exit status. */
function launchTui(target: string, on: TestEnv = env): void {
  const envArgs = Object.entries({ ...on.env, PATH: process.env.PATH!, TERM: 'xterm-256color' }).map(([k, v]) => `${k}=${v}`);
  const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
  tmux('send-keys', '-t', target, `${['env', ...envArgs, process.execPath, CLI, 'tui'].map(quote).join(' ')}; echo "EXIT=$?"`, 'Enter');
}

pgTest.beforeAll(async ({ db }) => {
  if (!hasTmux) return;
  env = makeEnv({ remote: { kind: 'postgres' }, sync: { intervals: { default: 3600 } } }, { CCM_SYNC_DATABASE_URL: db.url });
  daemon = await startDaemonProcess(env.env);
  raw = path.join(env.dir, 'pane.raw');
});
afterAll(async () => {
  if (!hasTmux) return;
  try {
    tmux('kill-server');
  } catch {
    // already gone
  }
  await daemon.stop();
  env.cleanup();
});

describe.skipIf(!hasTmux)('ccm-sync tui in a terminal', () => {
  pgTest('shows the queue and last sync as they change, syncs on s, and quits cleanly on q', async ({ db }) => {
    // Start a shell, record every byte the pane receives, then exec the dashboard in it.
    tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', 'sh');
    tmux('set-option', '-t', session, 'remain-on-exit', 'on');
    tmux('pipe-pane', '-t', session, `cat > ${raw}`);
    launchTui(session);
    await until(() => /Queue: 0/.test(screen()), 'the dashboard with an empty queue', 15_000, 100);
    expect(screen()).toMatch(/Last sync[\s\S]*never/);

    const lines = [1, 2, 3].map((i) => JSON.stringify({ operation: 'INSERT', table_name: 'tasks', record_id: `tui-${i}`, record_data: { title: 'x' } })).join('\n');
    await runCli(['enqueue', '--stdin'], { env: env.env, input: lines });
    await until(() => /Queue: 3/.test(screen()), 'the queue panel to show 3 pending', 5000, 100);

    tmux('send-keys', '-t', session, 's');
    await until(() => /sync now: synced, 3 ops/.test(screen()), 'feedback from the s key', 10_000, 100);
    await until(() => /Queue: 0/.test(screen()) && /manual/.test(screen()), 'queue empty and last sync manual', 5000, 100);
    expect(Number((await db.query<{ n: string }>("select count(*) n from tasks where id like 'tui-%'"))[0]!.n)).toBe(3);

    tmux('send-keys', '-t', session, '?');
    await until(() => /p\s+pause \/ resume automatic syncs/.test(screen()), 'the help panel', 5000, 100);
    tmux('send-keys', '-t', session, '?');

    tmux('send-keys', '-t', session, 'q');
    await until(() => /EXIT=\d+/.test(screen()), 'the tui to exit', 5000, 100);
    expect(screen()).toMatch(/EXIT=0/);
    // Terminal restored: the cursor Ink hid while running is shown again, no alternate screen.
    const bytes = readFileSync(raw, 'latin1');
    expect(bytes.lastIndexOf('\x1b[?25l')).toBeGreaterThan(-1);
    expect(bytes.lastIndexOf('\x1b[?25h')).toBeGreaterThan(bytes.lastIndexOf('\x1b[?25l'));
    expect(tmux('display-message', '-p', '-t', session, '#{alternate_on}').trim()).toBe('0');
  });

  it('says when the terminal is too small, and draws the dashboard once it is enlarged', async () => {
    const small = `${session}-small`;
    tmux('new-session', '-d', '-s', small, '-x', '60', '-y', '20', 'sh');
    const pane = () => tmux('capture-pane', '-p', '-t', small);
    launchTui(small);
    await until(() => /needs at least 80×24/.test(pane()), 'the too-small notice', 15_000, 100);
    expect(pane()).toContain('The terminal is 60×20');
    expect(pane()).not.toMatch(/Queue: \d/);
    tmux('resize-window', '-t', small, '-x', '100', '-y', '30');
    await until(() => /Queue: \d/.test(pane()), 'the dashboard after the resize', 10_000, 100);
    expect(pane()).not.toContain('needs at least');
    tmux('send-keys', '-t', small, 'q');
    await until(() => /EXIT=0/.test(pane()), 'the tui to exit', 5000, 100);
    tmux('kill-session', '-t', small);
  });

  pgTest('fits 80×24 whatever it says: a long answer to s with no daemon, and the failures view with 8 long reasons', async ({ db }) => {
    // A home of its own, with no daemon and 8 dead letters whose reasons are long.
    const quiet = makeEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: db.url });
    await db.query(`alter table alerts add constraint ccm_tui_refuse check (message is distinct from '${'x'.repeat(300)}')`);
    try {
      const ops = Array.from({ length: 8 }, (_, i) => JSON.stringify({ operation: 'INSERT', table_name: 'alerts', record_id: `tui-bad-${i}`, record_data: { message: 'x'.repeat(300) } })).join('\n');
      await runCli(['enqueue', '--stdin'], { env: quiet.env, input: ops });
      expect((await runCli(['sync', 'now'], { env: quiet.env })).code).toBe(1);
      const fit = `${session}-fit`;
      tmux('new-session', '-d', '-s', fit, '-x', '80', '-y', '24', 'sh');
      tmux('send-keys', '-t', fit, 'clear', 'Enter');
      const pane = () => tmux('capture-pane', '-p', '-t', fit);
      const history = () => Number(tmux('display-message', '-p', '-t', fit, '#{history_size}').trim());
      launchTui(fit, quiet);
      await until(() => /Queue: 0/.test(pane()), 'the dashboard', 15_000, 100);
      tmux('send-keys', '-t', fit, 's');
      await until(() => /no daemon is running/.test(pane()), 'the answer to s', 10_000, 100);
      expect(pane().split('\n')[0]).toMatch(/^ccm-sync · /); // the header has not scrolled away
      tmux('send-keys', '-t', fit, 'f');
      await until(() => /Failed operations: 8/.test(pane()), 'the failures view', 10_000, 100);
      const settled = history();
      await new Promise((r) => setTimeout(r, 2500)); // a few redraws
      expect(pane().split('\n').slice(0, 2).join('\n')).toContain('Failed operations: 8'); // its title, under the border
      expect(pane()).toMatch(/… \(ccm-sync failed show \d+\)/);
      expect(pane()).toMatch(/… and \d+ more: ccm-sync failed list/);
      // Frames redraw in place: the scrollback does not grow while the view stays up.
      expect(history() - settled).toBeLessThanOrEqual(2);
      tmux('send-keys', '-t', fit, 'q');
      await until(() => /EXIT=0/.test(pane()), 'the tui to exit', 5000, 100);
      tmux('kill-session', '-t', fit);
    } finally {
      await db.query('alter table alerts drop constraint ccm_tui_refuse');
      quiet.cleanup();
    }
  });

  it('prints one plain snapshot without a TTY or with --once', async () => {
    const r = await runCli(['tui', '--once'], { env: env.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Pending operations: \d+/m);
    expect(r.stdout).not.toContain(String.fromCharCode(27)); // no escape codes
  });
});
