/**
 * `ccm-sync hook claude` with Claude Code's payloads (test/fixtures/claude-code: two sessions, every
 * event type, written from the hooks reference): run exactly as Claude Code runs it, spooled,
 * recorded and summarised on a real Postgres; and what happens to a payload it cannot take. How
 * events group into tasks: test/hook-grouping.test.ts.
 */
import { scaled } from './helpers/wait.ts';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { drainSpool } from '../src/hooks/spool-drain.ts';
import { spoolDir, spoolPayload } from '../src/hooks/spool.ts';
import { openLocal } from '../src/local.ts';
import { CLI, runCli } from './helpers/cli.ts';
import { makeEnv } from './helpers/env.ts';
import { pgTest, type TestDatabase } from './helpers/fixtures.ts';

const CORPUS = readFileSync(new URL('./fixtures/claude-code/payloads.jsonl', import.meta.url), 'utf8').trim().split('\n');

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
      // The read-only home's status counts it; another home's does not (the fallback log is shared).
      const there = await runCli(['sync', 'status', '--json'], { env: { HOME: mnt, TMPDIR: p.tmp }, cwd: mnt });
      expect(there.code, there.stderr).toBe(0);
      expect(JSON.parse(there.stdout).hooks).toMatchObject({ failures: 1, last_failure: { home: path.join(mnt, '.ccm-global') } });
      const elsewhere = JSON.parse((await runCli(['sync', 'status', '--json'], { env: { ...p.env.env, TMPDIR: p.tmp } })).stdout);
      expect(elsewhere.hooks.failures).toBe(0);
    } finally {
      execFileSync('umount', [mnt]);
      p.cleanup();
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
