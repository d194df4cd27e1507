/**
 * `ccm-sync hook claude` with Claude Code's payloads (test/fixtures/claude-code: two sessions, every
 * event type, written from the hooks reference): run exactly as Claude Code runs it, spooled,
 * recorded, grouped into tasks and summarised on a real Postgres; and what happens to a payload it
 * cannot take.
 */
import { scaled } from './helpers/wait.ts';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drainSpool } from '../src/hooks/spool-drain.ts';
import { spoolDir, spoolPayload } from '../src/hooks/spool.ts';
import { openLocal } from '../src/local.ts';
import { CLI, runCli } from './helpers/cli.ts';
import { makeEnv, type TestEnv } from './helpers/env.ts';
import { pgTest, type TestDatabase } from './helpers/fixtures.ts';

const CORPUS = readFileSync(new URL('./fixtures/claude-code/payloads.jsonl', import.meta.url), 'utf8').trim().split('\n');
const withoutPromptIds = CORPUS.map((l) => {
  const { prompt_id: _p, ...rest } = JSON.parse(l) as Record<string, unknown>;
  return JSON.stringify(rest);
});

/** A folder with a `ccm-sync` on it, as a teammate's PATH has once ccm-sync is installed. */
let bin: string;
beforeAll(async () => {
  bin = mkdtempSync(path.join(tmpdir(), 'ccm-bin-'));
  writeFileSync(path.join(bin, 'ccm-sync'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`, { mode: 0o755 });
});
afterAll(async () => {
  rmSync(bin, { recursive: true, force: true });
});

/** A project with its home, a folder deep inside it, and the command `hook install` writes. */
async function project(db: TestDatabase, config: Record<string, unknown> = {}) {
  const env = makeEnv({ remote: { kind: 'postgres' }, ...config }, { CCM_SYNC_DATABASE_URL: db.url });
  const deep = path.join(env.dir, 'src', 'deep');
  mkdirSync(deep, { recursive: true });
  const tmp = mkdtempSync(path.join(tmpdir(), 'ccm-hook-tmp-'));
  const userHome = path.join(env.dir, 'user-home'); // not the project: there, project settings would be the user's
  mkdirSync(userHome);
  const install = await runCli(['hook', 'install', '--scope', 'project', '--dir', env.dir], { cwd: env.dir, env: { HOME: userHome } });
  expect(install.code, install.stderr).toBe(0);
  const settings = JSON.parse(readFileSync(path.join(env.dir, '.claude', 'settings.json'), 'utf8'));
  const command = settings.hooks.PostToolUse[0].hooks[0].command as string;
  expect(command).toBe('ccm-sync hook claude'); // project settings are shared: ccm-sync from PATH
  return {
    env, deep, command, tmp,
    cleanup() {
      env.cleanup();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** Runs the hook command as Claude Code does: `sh -c`, the payload on stdin, the agent's cwd. */
function claudeRuns(command: string, payload: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd, env: { PATH: `${bin}:${process.env.PATH}`, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(payload);
  });
}

type Summary = Record<string, unknown> & { id: string };
const summaries = async (db: TestDatabase, systemId: string): Promise<Map<string, Summary>> =>
  new Map((await db.query<Summary>('select * from task_summaries where system_id = $1', [systemId])).map((r) => [r.id, r]));

describe('ccm-sync hook claude, run as Claude Code runs it', () => {
  pgTest('records every event of two sessions into the home, exits 0 silently, and the remote gets one summary per prompt', async ({ db }) => {
    const p = await project(db);
    try {
      // In order, as Claude Code fires them (UserPromptSubmit and Stop are waited for; tool events
      // run in the background, so a session's parallel ones overlap).
      for (const line of CORPUS) {
        const r = await claudeRuns(p.command, line, p.deep, { HOME: p.env.dir, TMPDIR: p.tmp });
        expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
      }
      expect(readdirSync(spoolDir(path.join(p.env.dir, '.ccm-global'))).filter((n) => n.endsWith('.json'))).toHaveLength(CORPUS.length);
      const sync = await runCli(['sync', 'now', '--json'], { env: p.env.env });
      expect(sync.code, sync.stderr).toBe(0);

      const s = await summaries(db, p.env.systemId);
      expect([...s.keys()].sort()).toEqual([
        '1a6f3e80-2d94-4b7c-8e51-c0d9b2a4f716', '3b8e2f0c-6d1a-4c59-9e7b-2a4f1d8c6e93#0', '5c8e2d41-7a03-4f9b-b6e2-9d1f4c0a8b35',
        '7f1c9a52-0b3e-4e8d-a6c1-5d2f9e0b7a14', 'c24e8b19-9f6d-4a37-b0e5-81d3a6f2c950', 'e9a0d3c7-4b12-4f6e-8c5a-2b7e1f9d0a63',
        'f04d6a1e-8c2b-47f3-9d15-6e0a3b7c2f88#0',
      ]);
      // A failing `npm test`, an edit, the same command again (passing), a write outside cwd.
      expect(s.get('7f1c9a52-0b3e-4e8d-a6c1-5d2f9e0b7a14')).toMatchObject({
        session_id: '3b8e2f0c-6d1a-4c59-9e7b-2a4f1d8c6e93', cwd: '/home/alice/src/ccm-demo', status: 'closed',
        total_events: 12, prompt_count: 1, tools_used: { Bash: 2, Edit: 1, Write: 1 },
        files_modified: ['/home/alice/notes/ccm-demo-followups.md', 'src/config.ts'], commands_run: ['npm test'],
        error_count: 1, errors: [expect.objectContaining({ tool_name: 'Bash', event_name: 'PostToolUseFailure', message: 'Exit code 1', target: 'npm test' })],
      });
      // The subagent's Grep and Read belong to the prompt that started it.
      expect(s.get('c24e8b19-9f6d-4a37-b0e5-81d3a6f2c950')).toMatchObject({ total_events: 10, tools_used: { Agent: 1, Grep: 1, Read: 1 }, files_modified: [], status: 'closed' });
      expect(s.get('e9a0d3c7-4b12-4f6e-8c5a-2b7e1f9d0a63')).toMatchObject({ total_events: 4, status: 'closed', tools_used: {} });
      // MultiEdit counts as a file write; an MCP tool is listed by its name; the SessionStart after
      // /compact carries no prompt id and joins the session's current task.
      expect(s.get('1a6f3e80-2d94-4b7c-8e51-c0d9b2a4f716')).toMatchObject({
        total_events: 12, tools_used: { MultiEdit: 1, Write: 1, mcp__github__create_issue: 1 }, files_modified: ['src/handlers/health.ts', 'src/routes.ts'], cwd: '/Users/bob/work/api-server',
      });
      expect(s.get('5c8e2d41-7a03-4f9b-b6e2-9d1f4c0a8b35')).toMatchObject({ total_events: 6, tools_used: { Edit: 1 }, status: 'closed' });
      // What came before a session's first prompt (SessionStart) is closed by its SessionEnd too.
      expect(s.get('3b8e2f0c-6d1a-4c59-9e7b-2a4f1d8c6e93#0')).toMatchObject({ total_events: 2, status: 'closed' });
      expect(s.get('f04d6a1e-8c2b-47f3-9d15-6e0a3b7c2f88#0')).toMatchObject({ total_events: 2, status: 'closed' });
      // What goes up is the summary: no prompt text, file content or tool output.
      const remote = JSON.stringify([...s.values()]);
      expect(remote).not.toContain('The config tests are failing');
      expect(remote).not.toContain('FAIL');
      expect(remote).not.toMatch(/old_string|new_string|"content"/);
      const status = JSON.parse((await runCli(['sync', 'status', '--json'], { env: p.env.env })).stdout);
      expect(status.hooks).toMatchObject({ spooled: 0, rejected: 0, failures: 0, last_event: 'SessionEnd' });
    } finally {
      p.cleanup();
    }
  }, scaled(30_000));

  pgTest('logs and counts a payload it cannot take, still exiting 0 with nothing on stdout', async ({ db }) => {
    const p = await project(db);
    try {
      const env = { HOME: p.env.dir, TMPDIR: p.tmp };
      for (const bad of ['not json at all', '', '[1, 2]', '{"session_id": "s-1", "secret": "hunter2hunter2"}']) {
        expect(await claudeRuns(p.command, bad, p.deep, env)).toEqual({ code: 0, stdout: '', stderr: '' });
      }
      const log = readFileSync(path.join(p.env.dir, '.ccm-global', 'logs', 'hooks.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(log.map((l) => l.problem)).toEqual([
        'malformed payload: 15 bytes that are not JSON', 'empty payload: nothing on stdin', 'malformed payload: expected a JSON object', 'malformed payload: no hook_event_name',
      ]);
      expect(log[3].session).toBe('s-1');
      expect(JSON.stringify(log)).not.toContain('hunter2');
      const status = await runCli(['sync', 'status', '--json'], { env: { ...p.env.env, TMPDIR: p.tmp } });
      expect(JSON.parse(status.stdout).hooks).toMatchObject({ failures: 4, last_failure: { problem: 'malformed payload: no hook_event_name' } });
      const human = await runCli(['sync', 'status'], { env: { ...p.env.env, TMPDIR: p.tmp } });
      expect(human.stdout).toMatch(/^Hooks: no event recorded yet · 4 failures in 24 h, last: malformed payload: no hook_event_name/m);
    } finally {
      p.cleanup();
    }
  });

  pgTest.skipIf(process.getuid?.() !== 0)('writes to the fallback log when the home is read-only, and exits 0', async ({ db }) => {
    const p = await project(db);
    const mnt = path.join(p.tmp, 'ro-home');
    mkdirSync(mnt);
    const { execFileSync } = await import('node:child_process');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    try {
      mkdirSync(path.join(mnt, '.ccm-global'));
      execFileSync('mount', ['-o', 'remount,ro', mnt]);
      const r = await claudeRuns(p.command, CORPUS[2]!, mnt, { HOME: mnt, TMPDIR: p.tmp });
      expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
      const fallback = readFileSync(path.join(p.tmp, `ccm-sync-hooks-${process.getuid!()}.log`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(fallback).toEqual([expect.objectContaining({ event: 'PreToolUse', session: '3b8e2f0c-6d1a-4c59-9e7b-2a4f1d8c6e93', problem: expect.stringMatching(/EROFS|read-only/) })]);
      // Any status of this user counts it, whichever home it looks at.
      const status = JSON.parse((await runCli(['sync', 'status', '--json'], { env: { ...p.env.env, TMPDIR: p.tmp } })).stdout);
      expect(status.hooks.failures).toBe(1);
    } finally {
      execFileSync('umount', [mnt]);
      p.cleanup();
    }
  });
});

describe('task grouping', () => {
  let env: TestEnv;
  pgTest.beforeAll(({ db }) => {
    env = makeEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: db.url });
  });
  afterAll(() => env.cleanup());

  /** Spools lines with arrival times a second apart from `startMs`, then records them. */
  function replay(lines: readonly string[], startMs: number, taskEnv?: string): void {
    const home = env.settings.paths.home;
    lines.forEach((l, i) => spoolPayload(spoolDir(home), l, taskEnv, startMs + i * 1000));
    const local = openLocal(env.settings);
    try {
      expect(drainSpool(home, local)).toEqual({ recorded: lines.length, rejected: 0 });
    } finally {
      local.close();
    }
  }

  pgTest('without prompt ids: the session and the ordinal of its last prompt, subagents folded in', async ({ db }) => {
    replay(withoutPromptIds, Date.parse('2026-11-20T10:00:00Z'));
    expect((await runCli(['sync', 'now'], { env: env.env })).code).toBe(0);
    const s = await summaries(db, env.systemId);
    const a = '3b8e2f0c-6d1a-4c59-9e7b-2a4f1d8c6e93';
    const b = 'f04d6a1e-8c2b-47f3-9d15-6e0a3b7c2f88';
    expect([...s.keys()].sort()).toEqual([`${a}#0`, `${a}#1`, `${a}#2`, `${a}#3`, `${b}#0`, `${b}#1`, `${b}#2`]);
    // Arrival times a second apart: durations from the first event to the last.
    expect(s.get(`${a}#1`)).toMatchObject({ total_events: 12, tools_used: { Bash: 2, Edit: 1, Write: 1 }, duration_seconds: '11' });
    expect(s.get(`${a}#2`)).toMatchObject({ total_events: 10, tools_used: { Agent: 1, Grep: 1, Read: 1 }, duration_seconds: '9' });
    expect(s.get(`${b}#1`)).toMatchObject({ total_events: 12, status: 'closed' });
    // Prompt, StopFailure, then an idle notification and SessionEnd: the work ended at the StopFailure.
    expect(s.get(`${a}#3`)).toMatchObject({ total_events: 4, status: 'closed', duration_seconds: '1' });
    expect(s.get(`${a}#0`)).toMatchObject({ total_events: 2, status: 'closed' });
  });

  pgTest('keeps a background subagent with the prompt that started it, after the next prompt', async ({ db }) => {
    const session = 'bg-session';
    const ev = (e: Record<string, unknown>) => JSON.stringify({ session_id: session, cwd: '/w', ...e });
    replay([
      ev({ hook_event_name: 'UserPromptSubmit', prompt: 'first' }),
      ev({ hook_event_name: 'PreToolUse', tool_name: 'Agent', tool_use_id: 'tA', tool_input: { prompt: 'look around', run_in_background: true } }),
      ev({ hook_event_name: 'SubagentStart', agent_id: 'a1', agent_type: 'Explore' }),
      ev({ hook_event_name: 'PostToolUse', tool_name: 'Agent', tool_use_id: 'tA', tool_response: { status: 'async_launched' } }),
      ev({ hook_event_name: 'Stop' }),
      ev({ hook_event_name: 'UserPromptSubmit', prompt: 'second' }),
      ev({ hook_event_name: 'PreToolUse', tool_name: 'Grep', tool_use_id: 'tG', agent_id: 'a1', agent_type: 'Explore' }),
      ev({ hook_event_name: 'PostToolUse', tool_name: 'Grep', tool_use_id: 'tG', agent_id: 'a1', agent_type: 'Explore' }),
      ev({ hook_event_name: 'SubagentStop', agent_id: 'a1', agent_type: 'Explore' }),
      ev({ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_use_id: 'tB', tool_input: { command: 'ls' } }),
    ], Date.parse('2026-11-20T14:00:00Z'));
    expect((await runCli(['sync', 'now'], { env: env.env })).code).toBe(0);
    const s = await summaries(db, env.systemId);
    expect(s.get(`${session}#1`)).toMatchObject({ tools_used: { Agent: 1, Grep: 1 }, total_events: 8 });
    expect(s.get(`${session}#2`)).toMatchObject({ tools_used: { Bash: 1 }, total_events: 2 });
    // The subagent's late events reopened the first task after its Stop. The agent-completion
    // notice arrives as a prompt of its own; its Stop and the SessionEnd close every open task.
    expect(s.get(`${session}#1`)).toMatchObject({ status: 'open' });
    replay([
      ev({ hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_use_id: 'tB', tool_input: { command: 'ls' } }),
      ev({ hook_event_name: 'Stop' }),
      ev({ hook_event_name: 'UserPromptSubmit', prompt: '<task-notification>a1 completed</task-notification>' }),
      ev({ hook_event_name: 'Stop' }),
      ev({ hook_event_name: 'SessionEnd', reason: 'other' }),
    ], Date.parse('2026-11-20T14:01:00Z'));
    expect((await runCli(['sync', 'now'], { env: env.env })).code).toBe(0);
    const after = await summaries(db, env.systemId);
    for (const t of [`${session}#1`, `${session}#2`, `${session}#3`]) {
      expect(after.get(t), t).toMatchObject({ status: 'closed' });
      expect(after.get(t)!.closed_at, t).not.toBeNull();
    }
  });

  pgTest('folds a subagent\'s events into the prompt that started it, even under a prompt id of their own', async ({ db }) => {
    const session = CORPUS.slice(13, 23).map((l) => {
      const p = JSON.parse(l) as Record<string, unknown>;
      const own = p.agent_id ? { prompt_id: 'subagent-own-prompt' } : {};
      return JSON.stringify({ ...p, session_id: 'sub-session', ...own });
    });
    replay(session, Date.parse('2026-11-20T12:00:00Z'));
    expect((await runCli(['sync', 'now'], { env: env.env })).code).toBe(0);
    const s = await summaries(db, env.systemId);
    expect(s.has('subagent-own-prompt')).toBe(false);
    expect(s.get('c24e8b19-9f6d-4a37-b0e5-81d3a6f2c950')).toMatchObject({ session_id: 'sub-session', total_events: 10, tools_used: { Agent: 1, Grep: 1, Read: 1 } });
  });

  pgTest('CCM_TASK_ID puts every event of the run in the orchestrator\'s task', async ({ db }) => {
    replay(CORPUS.slice(27), Date.parse('2026-11-21T10:00:00Z'), 'orchestrated-run-7');
    expect((await runCli(['sync', 'now'], { env: env.env })).code).toBe(0);
    const row = (await summaries(db, env.systemId)).get('orchestrated-run-7');
    expect(row).toMatchObject({ total_events: 19, prompt_count: 2, tools_used: { Edit: 1, MultiEdit: 1, Write: 1, mcp__github__create_issue: 1 }, status: 'closed' });
  });

  pgTest('records each spooled event once when two processes drain the spool at the same time', async ({ db }) => {
    const home = env.settings.paths.home;
    const t0 = Date.parse('2026-11-22T08:00:00Z');
    for (let i = 0; i < 400; i++) {
      spoolPayload(spoolDir(home), JSON.stringify({ session_id: 'race', prompt_id: 'p-race', hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_use_id: `t${i}`, tool_input: { command: `echo ${i}` } }), undefined, t0 + i);
    }
    const [a, b] = await Promise.all([runCli(['sync', 'now'], { env: env.env }), runCli(['sync', 'now'], { env: env.env })]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const local = openLocal(env.settings);
    try {
      expect(local.db.prepare("SELECT count(*) FROM hook_events WHERE session_id = 'race'").pluck().get()).toBe(400);
    } finally {
      local.close();
    }
    expect(readdirSync(spoolDir(home)).filter((n) => n.endsWith('.json'))).toEqual([]);
    expect(await db.query("select total_events from task_summaries where system_id = $1 and id = 'p-race'", [env.systemId])).toEqual([{ total_events: 400 }]);
  });

  it('records a spooled event once even when a drain dies between its commit and removing the files', () => {
    const home = env.settings.paths.home;
    const line = JSON.stringify({ session_id: 'crash-1', hook_event_name: 'Notification', message: 'hi' });
    const name = spoolPayload(spoolDir(home), line, undefined, Date.parse('2026-11-22T10:00:00Z'));
    const local = openLocal(env.settings);
    try {
      const before = local.db.prepare("SELECT count(*) AS n FROM hook_events WHERE session_id = 'crash-1'").pluck().get();
      // What a drain leaves when it is killed after its commit: the event recorded, its receipt
      // written, the file still there.
      local.db.prepare('INSERT INTO hook_spool_done (name, done_at) VALUES (?, ?)').run(name, new Date().toISOString());
      expect(drainSpool(home, local)).toEqual({ recorded: 0, rejected: 0 });
      expect(local.db.prepare("SELECT count(*) AS n FROM hook_events WHERE session_id = 'crash-1'").pluck().get()).toBe(before);
      expect(readdirSync(spoolDir(home)).filter((n) => n.endsWith('.json'))).toEqual([]);
      expect(local.db.prepare('SELECT count(*) FROM hook_spool_done').pluck().get()).toBe(0);
    } finally {
      local.close();
    }
  });

  it('sets aside an event the table refuses, keeps it for a person, and records the rest', () => {
    const home = env.settings.paths.home;
    const dir = spoolDir(home);
    spoolPayload(dir, JSON.stringify({ session_id: 'bad-1', hook_event_name: 'PostToolUse', tool_name: 'Bash', success: 'maybe' }), undefined, Date.parse('2026-11-23T10:00:00Z'));
    spoolPayload(dir, JSON.stringify({ session_id: 'bad-1', hook_event_name: 'FutureEvent', brand_new_field: { x: 1 } }), undefined, Date.parse('2026-11-23T10:00:01Z'));
    writeFileSync(path.join(dir, '001795000000000-000000-1.json'), '{"arrived_at": "2026-11-23T10:00:02Z", "payload": ');
    const local = openLocal(env.settings);
    try {
      expect(drainSpool(home, local)).toEqual({ recorded: 1, rejected: 2 });
      const kept = local.db.prepare("SELECT event_name, payload FROM hook_events WHERE session_id = 'bad-1'").all() as { event_name: string; payload: string }[];
      expect(kept).toEqual([{ event_name: 'FutureEvent', payload: expect.stringContaining('"brand_new_field":{"x":1}') }]);
      expect(readdirSync(path.join(dir, 'rejected')).sort()).toHaveLength(2);
      const log = readFileSync(path.join(home, 'logs', 'hooks.log'), 'utf8');
      expect(log).toMatch(/event refused: .*hook_events\.success expects true or false/);
      expect(log).toMatch(/unreadable spooled event/);
    } finally {
      local.close();
    }
  });
});

describe('what leaves the machine', () => {
  pgTest('keeps an event too big for a record, cutting it down instead of refusing it', async ({ db }) => {
    const env = makeEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: db.url });
    try {
      const home = env.settings.paths.home;
      const lines = Array.from({ length: 60_000 }, (_, i) => `+ line ${i} of a large file that was rewritten`);
      const write = JSON.stringify({
        session_id: 'big-write', prompt_id: 'p-bw', cwd: '/w', hook_event_name: 'PostToolUse', tool_name: 'Write', tool_use_id: 'tw',
        tool_input: { file_path: '/w/src/huge.ts', content: lines.join('\n') },
        tool_response: { type: 'update', filePath: '/w/src/huge.ts', structuredPatch: [{ oldStart: 1, lines }], originalFile: lines.join('\n') },
      });
      expect(Buffer.byteLength(write)).toBeGreaterThan(env.settings.sync.max_bytes_per_request);
      spoolPayload(spoolDir(home), write, undefined, Date.parse('2026-11-24T09:00:00Z'));
      const local = openLocal(env.settings);
      try {
        expect(drainSpool(home, local)).toEqual({ recorded: 1, rejected: 0 });
        const row = local.db.prepare("SELECT payload, payload_bytes FROM hook_events WHERE session_id = 'big-write'").get() as { payload: string; payload_bytes: number };
        expect(row.payload).toContain('…[59900 more items]');
        expect(row.payload_bytes).toBeGreaterThan(2_000_000);
      } finally {
        local.close();
      }
      expect((await runCli(['sync', 'now'], { env: env.env })).code).toBe(0);
      expect(await db.query("select files_modified from task_summaries where system_id = $1 and id = 'p-bw'", [env.systemId])).toEqual([{ files_modified: ['src/huge.ts'] }]);
    } finally {
      env.cleanup();
    }
  });

  pgTest('cuts long fields locally, noting their size, and uploads prompt texts only when hooks.upload lists them', async ({ db }) => {
    const env = makeEnv({ remote: { kind: 'postgres' }, hooks: { max_field_chars: 1000, upload: ['prompts'] } }, { CCM_SYNC_DATABASE_URL: db.url });
    try {
      const home = env.settings.paths.home;
      const big = JSON.stringify({ session_id: 'big-1', prompt_id: 'p-big', hook_event_name: 'PostToolUse', tool_name: 'Read', tool_use_id: 't1', tool_input: { file_path: '/x' }, tool_response: { content: `\u0000${'y'.repeat(50_000)}` } });
      const prompt = JSON.stringify({ session_id: 'big-1', prompt_id: 'p-big', hook_event_name: 'UserPromptSubmit', prompt: 'Summarise the logs' });
      spoolPayload(spoolDir(home), prompt, undefined, Date.parse('2026-11-24T10:00:00Z'));
      spoolPayload(spoolDir(home), big, undefined, Date.parse('2026-11-24T10:00:01Z'));
      const local = openLocal(env.settings);
      try {
        drainSpool(home, local);
        const row = local.db.prepare("SELECT payload, payload_bytes FROM hook_events WHERE event_name = 'PostToolUse' AND session_id = 'big-1'").get() as { payload: string; payload_bytes: number };
        expect(row.payload.length).toBeLessThan(2000);
        expect(row.payload).toContain('…[truncated: 50001 bytes]');
        expect(row.payload).toContain('\uFFFD'); // the NUL of binary output, kept as U+FFFD
        expect(row.payload_bytes).toBeGreaterThan(50_000);
      } finally {
        local.close();
      }
      expect((await runCli(['sync', 'now'], { env: env.env })).code).toBe(0);
      const [s] = await db.query<{ extra: { prompts: string[] } }>("select extra from task_summaries where system_id = $1 and id = 'p-big'", [env.systemId]);
      expect(s!.extra.prompts).toEqual(['Summarise the logs']);
    } finally {
      env.cleanup();
    }
  });
});
