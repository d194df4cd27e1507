/**
 * `ccm-sync hook install|uninstall|status` on Claude Code settings files that already hold other
 * keys and hooks (run twice, dry-run, from another installation), and the daemon's side of hooks:
 * the spool recorded as files land, and the http hook route.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/postgrest.ts';
import { runCli } from './helpers/cli.ts';
import { startDaemonProcess } from './helpers/daemon-process.ts';
import { makeEnv } from './helpers/env.ts';
import { until } from './helpers/wait.ts';
import { pgTest } from './helpers/fixtures.ts';

const CORPUS = readFileSync(new URL('./fixtures/claude-code/payloads.jsonl', import.meta.url), 'utf8').trim().split('\n');

/** A user's settings before ccm-sync: other keys, their own hooks, one from an older ccm-sync. */
const THEIRS = {
  model: 'opus',
  permissions: { allow: ['Bash(npm test)'] },
  hooks: {
    PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: '~/bin/guard.sh', timeout: 5 }] }],
    Stop: [{ hooks: [{ type: 'command', command: 'say done' }, { type: 'command', command: '/old/bin/ccm-sync hook' }] }],
    UserPromptSubmit: [{ hooks: [{ type: 'command', command: '/opt/old/node /opt/old/dist/cli/main.js hook claude' }] }],
  },
};

/** PATH with the real Claude Code 2.1.328 on it (the devDependency), as a user who installed it has. */
const WITH_CLAUDE = `${path.resolve('node_modules/.bin')}:${process.env.PATH}`;
/** The events ccm-sync installs for Claude Code 2.1.328: every one it knows. */
const ALL_EVENTS = ['Notification', 'PermissionDenied', 'PermissionRequest', 'PostCompact', 'PostToolBatch', 'PostToolUse', 'PostToolUseFailure', 'PreCompact',
  'PreToolUse', 'SessionEnd', 'SessionStart', 'Stop', 'StopFailure', 'SubagentStart', 'SubagentStop', 'UserPromptSubmit'];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ccm-hook-install-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const settingsOf = (file: string) => JSON.parse(readFileSync(file, 'utf8'));
const ours = (s: { hooks?: Record<string, { hooks: { command?: string; url?: string }[] }[]> }) =>
  Object.entries(s.hooks ?? {}).flatMap(([event, groups]) => groups.flatMap((g) => g.hooks.filter((h) => /hook claude$/.test(h.command ?? '') || /api\/hooks\/claude$/.test(h.url ?? '')).map(() => event)));

describe('hook install and uninstall', () => {
  it('merges into a settings file with other hooks, idempotently, with a backup, and removes only its own', async () => {
    const claudeDir = path.join(dir, 'claude-config');
    mkdirSync(claudeDir);
    const file = path.join(claudeDir, 'settings.json');
    const original = `${JSON.stringify(THEIRS, null, 4)}\n`;
    writeFileSync(file, original);
    const env = { CLAUDE_CONFIG_DIR: claudeDir, HOME: dir, PATH: WITH_CLAUDE };

    const dry = await runCli(['hook', 'install', '--dry-run'], { env, cwd: dir });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^\+\s+"command": ".* hook claude",$/m);
    expect(dry.stdout).toContain('(dry run: nothing written)');
    expect(readFileSync(file, 'utf8')).toBe(original);

    const first = await runCli(['hook', 'install', '--json'], { env, cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    const out = JSON.parse(first.stdout);
    expect(out).toMatchObject({ file, changed: true, scope: 'user', kind: 'command', claude_version: '2.1.328', events: expect.arrayContaining(ALL_EVENTS) });
    expect(out.events).toHaveLength(16);
    expect(readFileSync(out.backup, 'utf8')).toBe(original);
    // The backup lives in ccm-sync's home, private, never beside the settings file.
    expect(out.backup.startsWith(path.join(dir, '.ccm-global', 'backups', 'claude-settings'))).toBe(true);
    expect(statSync(out.backup).mode & 0o777).toBe(0o600);
    expect(readdirSync(claudeDir)).toEqual(['settings.json']);
    const s = settingsOf(file);
    expect(s.model).toBe('opus');
    expect(s.permissions).toEqual(THEIRS.permissions);
    expect(s.hooks.PreToolUse[0]).toEqual(THEIRS.hooks.PreToolUse[0]);
    expect(s.hooks.Stop[0].hooks).toEqual([{ type: 'command', command: 'say done' }]); // the older ccm-sync entry replaced
    expect(ours(s).sort()).toEqual(ALL_EVENTS);
    const tool = s.hooks.PostToolUse.at(-1);
    expect(tool).toMatchObject({ matcher: '*', hooks: [{ type: 'command', timeout: 10, async: true }] });
    expect(tool.hooks[0].command).toMatch(/^\S*node \S*dist\/cli\/main\.js hook claude$/);
    expect(path.isAbsolute(tool.hooks[0].command.split(' ')[0])).toBe(true);
    expect(s.hooks.UserPromptSubmit).toEqual([{ hooks: [{ type: 'command', command: tool.hooks[0].command, timeout: 10 }] }]); // waited for

    const backups = () => readdirSync(path.dirname(out.backup));
    const second = await runCli(['hook', 'install'], { env, cwd: dir });
    expect(second.stdout).toMatch(/already as it should be, nothing to change/);
    expect(backups()).toHaveLength(1);
    expect(settingsOf(file)).toEqual(s);

    const status = JSON.parse((await runCli(['hook', 'status', '--json'], { env, cwd: dir })).stdout);
    expect(status.installs.find((i: { scope: string }) => i.scope === 'user')).toMatchObject({ kind: 'command', events: expect.arrayContaining(['PostToolUse']) });

    for (let i = 0; i < 2; i++) expect((await runCli(['hook', 'uninstall'], { env, cwd: dir })).code).toBe(0);
    const after = settingsOf(file);
    expect(ours(after)).toEqual([]);
    expect(after).toEqual({ ...THEIRS, hooks: { PreToolUse: THEIRS.hooks.PreToolUse, Stop: [{ hooks: [{ type: 'command', command: 'say done' }] }] } });
    expect(backups()).toHaveLength(2);
  });

  it('installs only the events the installed Claude Code knows, and status says what a newer one would add', async () => {
    const claudeDir = path.join(dir, 'versions');
    mkdirSync(claudeDir);
    const file = path.join(claudeDir, 'settings.json');
    // No Claude Code on PATH: only the events every version knows, and it says so.
    const none = await runCli(['hook', 'install'], { env: { CLAUDE_CONFIG_DIR: claudeDir, HOME: dir, PATH: '/usr/bin:/bin' }, cwd: dir });
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toMatch(/ccm-sync's hook on 11 events, for any Claude Code \(none answered `claude --version`/);
    expect(none.stdout).not.toContain('@@'); // the diff only when asked for
    expect(ours(settingsOf(file))).not.toContain('StopFailure');
    // The real Claude Code 2.1.328 on PATH: status names what it would add.
    const status = JSON.parse((await runCli(['hook', 'status', '--json'], { env: { CLAUDE_CONFIG_DIR: claudeDir, HOME: dir, PATH: WITH_CLAUDE }, cwd: dir })).stdout);
    expect(status.claude_version).toBe('2.1.328');
    expect(status.installs.find((i: { scope: string }) => i.scope === 'user')).toMatchObject({
      would_add: ['PermissionRequest', 'PostCompact', 'PermissionDenied', 'PostToolBatch', 'StopFailure'], unknown_to_claude: [],
    });
    // For an older Claude Code: StopFailure (2.1.78) but not PostCompact (2.1.83) or PermissionDenied (2.1.89).
    const old = await runCli(['hook', 'install', '--claude-version', '2.1.80', '--json'], { env: { CLAUDE_CONFIG_DIR: claudeDir, HOME: dir, PATH: WITH_CLAUDE }, cwd: dir });
    expect(JSON.parse(old.stdout)).toMatchObject({ claude_version: '2.1.80' });
    expect(ours(settingsOf(file)).sort()).toEqual(ALL_EVENTS.filter((e) => !['PostCompact', 'PermissionDenied', 'PostToolBatch'].includes(e)));
    const human = await runCli(['hook', 'status'], { env: { CLAUDE_CONFIG_DIR: claudeDir, HOME: dir, PATH: WITH_CLAUDE }, cwd: dir });
    expect(human.stdout).toContain('Claude Code: 2.1.328');
    expect(human.stdout).toMatch(/Claude Code 2\.1\.328 also has PostCompact, PermissionDenied, PostToolBatch: `ccm-sync hook install --scope user` adds them/);
  });

  it('leaves a missing settings file missing on uninstall, and writes through a symlinked one', async () => {
    const claudeDir = path.join(dir, 'linked');
    const dotfiles = path.join(dir, 'dotfiles');
    mkdirSync(claudeDir);
    mkdirSync(dotfiles);
    const env = { CLAUDE_CONFIG_DIR: claudeDir, HOME: dir, PATH: WITH_CLAUDE };
    const gone = await runCli(['hook', 'uninstall'], { env, cwd: dir });
    expect(gone.code).toBe(0);
    expect(gone.stdout).toMatch(/ccm-sync's hook is not in .*: nothing to remove/);
    expect(readdirSync(claudeDir)).toEqual([]);
    writeFileSync(path.join(dotfiles, 'claude-settings.json'), '{"model": "opus"}\n');
    symlinkSync(path.join(dotfiles, 'claude-settings.json'), path.join(claudeDir, 'settings.json'));
    expect((await runCli(['hook', 'install'], { env, cwd: dir })).code).toBe(0);
    expect(lstatSync(path.join(claudeDir, 'settings.json')).isSymbolicLink()).toBe(true);
    expect(ours(settingsOf(path.join(dotfiles, 'claude-settings.json')))).toHaveLength(16);
    expect(settingsOf(path.join(dotfiles, 'claude-settings.json')).model).toBe('opus');
  });

  it('pins the home an install found into the command; from $HOME, project scope is the user file and is refused', async () => {
    const home = path.join(dir, 'pinned-home');
    const proj = path.join(home, 'work', 'proj');
    mkdirSync(proj, { recursive: true });
    const env = { HOME: home };
    expect((await runCli(['init'], { cwd: proj, env })).code).toBe(0);
    const userFile = path.join(home, '.claude', 'settings.json');
    mkdirSync(path.dirname(userFile));
    writeFileSync(userFile, JSON.stringify({ hooks: { Stop: 'oops' } }));
    const r = await runCli(['hook', 'install'], { cwd: proj, env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/hooks\.Stop is not a list of hook groups; .*this install replaces it/);
    const command: string = settingsOf(userFile).hooks.Stop[0].hooks[0].command;
    expect(command.startsWith(`CCM_SYNC_HOME=${path.join(proj, '.ccm-global')} `)).toBe(true);
    // Claude Code runs it from a session in another folder: it records into the home it was installed for.
    const ran = spawnSync('sh', ['-c', command], { cwd: home, input: CORPUS[0], env: { ...process.env, HOME: home } });
    expect(ran.status).toBe(0);
    expect(readdirSync(path.join(proj, '.ccm-global', 'spool', 'claude')).filter((n) => n.endsWith('.json'))).toHaveLength(1);
    expect(existsSync(path.join(home, '.ccm-global'))).toBe(false);

    const refused = await runCli(['hook', 'install', '--scope', 'project'], { cwd: home, env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/the project settings file .* is the user's own settings file; run this from the project's folder/);
    const again = await runCli(['hook', 'install'], { cwd: home, env });
    expect(again.stderr).not.toMatch(/holds ccm-sync's hook too/);
    const status = JSON.parse((await runCli(['hook', 'status', '--json'], { cwd: home, env })).stdout);
    expect(status.installs.map((i: { scope: string }) => i.scope)).toEqual(['user', 'local']); // ~/.claude/settings.local.json is another file
    expect(status.installed_twice).toBe(false);
  });

  it('writes project and local settings, and refuses a settings file that is not JSON, leaving it as it was', async () => {
    const proj = path.join(dir, 'proj');
    mkdirSync(proj);
    expect((await runCli(['hook', 'install', '--scope', 'local'], { cwd: proj, env: { HOME: dir, PATH: WITH_CLAUDE } })).code).toBe(0);
    expect(ours(settingsOf(path.join(proj, '.claude', 'settings.local.json')))).toHaveLength(16);
    // Shared through git: the command is ccm-sync from PATH, not this machine's paths; and being in
    // two settings files would record every event twice, so install says so.
    const both = await runCli(['hook', 'install', '--scope', 'project'], { cwd: proj, env: { HOME: dir, PATH: '/usr/bin:/bin' } });
    expect(settingsOf(path.join(proj, '.claude', 'settings.json')).hooks.Stop[0].hooks[0].command).toBe('ccm-sync hook claude');
    expect(both.stderr).toMatch(/settings\.local\.json holds ccm-sync's hook too; .* recorded twice/);
    // Where ccm-sync is not on PATH, Claude Code could not run that command: install says so at once.
    expect(both.stderr).toMatch(/warning: the command runs `ccm-sync` from PATH, and it is not on this PATH.*hook error for every event/);
    const status = JSON.parse((await runCli(['hook', 'status', '--json'], { cwd: proj, env: { HOME: dir, PATH: '/usr/bin:/bin' } })).stdout);
    expect(status.installed_twice).toBe(true);
    expect(status.installs.find((i: { scope: string }) => i.scope === 'project').problem).toMatch(/not on this PATH/);
    expect((await runCli(['hook', 'uninstall', '--scope', 'project'], { cwd: proj, env: { HOME: dir } })).code).toBe(0);
    const broken = path.join(proj, '.claude', 'settings.json');
    writeFileSync(broken, '{ "model": "opus", }');
    const r = await runCli(['hook', 'install', '--scope', 'project'], { cwd: proj, env: { HOME: dir } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/settings\.json is not valid JSON .*Fix it, then run this again/);
    expect(readFileSync(broken, 'utf8')).toBe('{ "model": "opus", }');
  });
});

describe('the daemon and hooks', () => {
  pgTest('records spooled events as they land, and a third failed command starts a sync by itself', async ({ db }) => {
    const env = makeEnv({ remote: { kind: 'postgres' }, sync: { intervals: { default: 3600 }, thresholds: { max_pending_errors: 3 } } }, { CCM_SYNC_DATABASE_URL: db.url });
    const daemon = await startDaemonProcess(env.env);
    try {
      const failure = (i: number) => JSON.stringify({ ...JSON.parse(CORPUS[3]!), tool_use_id: `toolu_f${i}`, prompt_id: 'p-fail' });
      for (let i = 0; i < 3; i++) expect((await runCli(['hook', 'claude'], { env: env.env, input: failure(i) })).code).toBe(0);
      await until(async () => (await db.query("select error_count from task_summaries where id = 'p-fail'")).length === 1, 'the summary on the remote', 15_000);
      expect(await db.query("select error_count, status from task_summaries where id = 'p-fail'")).toEqual([{ error_count: 3, status: 'open' }]);
      expect(readdirSync(path.join(env.settings.paths.home, 'spool', 'claude')).filter((n) => n.endsWith('.json'))).toEqual([]);
    } finally {
      await daemon.stop();
      env.cleanup();
    }
  });

  pgTest('installs an http hook to the running daemon, whose route records the payload and answers 204', async ({ db }) => {
    const port = await freePort();
    const env = makeEnv({ remote: { kind: 'postgres' }, api: { port }, sync: { intervals: { default: 3600 } } }, { CCM_SYNC_DATABASE_URL: db.url });
    const daemon = await startDaemonProcess(env.env);
    const proj = path.join(env.dir, 'proj');
    mkdirSync(proj);
    try {
      const refused = await runCli(['hook', 'install', '--http', '--scope', 'project'], { cwd: proj, env: env.env });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/shared through git/);
      const r = await runCli(['hook', 'install', '--http', '--scope', 'local', '--diff'], { cwd: proj, env: env.env });
      expect(r.code, r.stderr).toBe(0);
      const token = readFileSync(env.settings.paths.tokenFile, 'utf8').trim();
      expect(r.stdout).toContain('Authorization');
      expect(r.stdout).not.toContain(token); // the diff it prints masks the daemon's token
      const file = path.join(proj, '.claude', 'settings.local.json');
      expect(statSync(file).mode & 0o777).toBe(0o600); // it holds the daemon's token
      const s = settingsOf(file);
      expect(s.hooks.SessionStart).toBeUndefined(); // Claude Code runs no http hooks there
      const h = s.hooks.PostToolUse[0].hooks[0];
      expect(h).toMatchObject({ type: 'http', url: `http://127.0.0.1:${port}/api/hooks/claude`, allowedEnvVars: ['CCM_TASK_ID'] });
      // What Claude Code sends: the payload as the body, the headers with $CCM_TASK_ID substituted.
      const headers = { ...h.headers, 'X-CCM-Task-Id': 'orch-9', 'content-type': 'application/json' };
      for (const line of CORPUS.slice(40, 46)) {
        const res = await fetch(h.url, { method: 'POST', headers, body: line });
        expect(res.status).toBe(204);
        expect(await res.text()).toBe('');
      }
      const bad = await fetch(h.url, { method: 'POST', headers, body: '{"no_event": true}' });
      expect(bad.status).toBe(204); // never a notice in the agent's transcript; counted instead
      // Not JSON at all: the same (it was a 400 that quoted the body back, and was not counted).
      const garbage = await fetch(h.url, { method: 'POST', headers, body: 'garbage {secret-ish' });
      expect(garbage.status).toBe(204);
      expect(await garbage.text()).toBe('');
      const status = JSON.parse((await runCli(['sync', 'status', '--json'], { env: env.env })).stdout);
      expect(status.hooks).toMatchObject({ last_event: 'SessionEnd', failures: 2 });
      expect(status.hooks.last_failure).toMatchObject({ problem: expect.stringMatching(/malformed payload: 19 bytes that are not JSON/) });
      expect((await runCli(['sync', 'now'], { env: env.env })).code).toBe(0);
      expect(await db.query("select total_events, status from task_summaries where id = 'orch-9'")).toEqual([{ total_events: 6, status: 'closed' }]);
    } finally {
      await daemon.stop();
      env.cleanup();
    }
  });
});
