/**
 * How Claude Code's hook events group into tasks (a task per prompt, a subagent's events with the
 * task it started in, sessions without prompt ids, races between the spool and the recorder), with
 * the corpus in test/fixtures/claude-code, summarised on a real Postgres.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { drainSpool } from '../src/hooks/spool-drain.ts';
import { spoolDir, spoolPayload } from '../src/hooks/spool.ts';
import { openLocal } from '../src/local.ts';
import { runCli } from './helpers/cli.ts';
import { makeEnv, type TestEnv } from './helpers/env.ts';
import { pgTest, type TestDatabase } from './helpers/fixtures.ts';

const CORPUS = readFileSync(new URL('./fixtures/claude-code/payloads.jsonl', import.meta.url), 'utf8').trim().split('\n');
const withoutPromptIds = CORPUS.map((l) => {
  const { prompt_id: _p, ...rest } = JSON.parse(l) as Record<string, unknown>;
  return JSON.stringify(rest);
});

type Summary = Record<string, unknown> & { id: string };
const summaries = async (db: TestDatabase, systemId: string): Promise<Map<string, Summary>> =>
  new Map((await db.query<Summary>('select * from task_summaries where system_id = $1', [systemId])).map((r) => [r.id, r]));

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

