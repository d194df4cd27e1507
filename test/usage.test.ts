/**
 * What a coding-agent task used and cost: the session's transcripts (written here as Claude Code
 * writes them: a line per content block, copies across a resume, a subagent's own file, the lines
 * errors leave) read by `sync now` where the spool is drained, attributed to tasks, and uploaded
 * in the task summaries to a real Postgres, with exact sums.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadPricing, priceOf } from '../src/hooks/pricing.ts';
import { describe, expect, it } from 'vitest';
import { cleanRemote } from '../src/hooks/repo.ts';
import { hashed } from '../src/package/hide-paths.ts';
import { runCli } from './helpers/cli.ts';
import { claudeSession } from './helpers/claude-session.ts';
import type { TestEnv } from './helpers/env.ts';
import { pgTest, type TestDatabase } from './helpers/fixtures.ts';

const home = (db: TestDatabase) => claudeSession(db.url);

type Row = Record<string, unknown>;
const summaries = async (db: TestDatabase, systemId: string) =>
  new Map((await db.query<Row & { id: string }>('select * from task_summaries where system_id = $1', [systemId])).map((r) => [r.id, r]));
const money = (r: Row | undefined) => Number(r?.cost_usd);

async function syncNow(env: TestEnv) {
  const r = await runCli(['sync', 'now', '--json'], { env: env.env });
  expect(r.code, r.stderr).toBe(0);
  return r;
}

describe('tokens and cost per task, from the transcripts', () => {
  pgTest('counts each response once, folds a late background subagent into its prompt, and uploads exact sums', async ({ db }) => {
    const { env, main, agent, spool, response, at } = home(db);
    try {
      spool(0, { hook_event_name: 'UserPromptSubmit', prompt_id: 'p1', prompt: 'fix the build' });
      // One response, two content blocks: two lines, the second with the final output count.
      appendFileSync(main, `${response(1, 'msg_a', 'claude-sonnet-4-5-20250929', { input: 100, output: 5, write: 1000 })}\n`);
      appendFileSync(main, `${response(1.2, 'msg_a', 'claude-sonnet-4-5-20250929', { input: 100, output: 40, write: 1000 })}\n`);
      // A tool result larger than any usage line: read past, never parsed.
      appendFileSync(main, `${JSON.stringify({ type: 'user', timestamp: at(1.5), message: { content: 'x'.repeat(17 << 20) } })}\n`);
      spool(2, { hook_event_name: 'PreToolUse', prompt_id: 'p1', tool_name: 'Agent', tool_use_id: 't1', tool_input: {} });
      spool(3, { hook_event_name: 'SubagentStart', prompt_id: 'p1', agent_id: 'ag1' });
      appendFileSync(agent, `${response(4, 'msg_s1', 'claude-haiku-4-5-20251001', { input: 50, output: 10, read: 200 }, { isSidechain: true, agentId: 'ag1' })}\n`);
      spool(5, { hook_event_name: 'Stop', prompt_id: 'p1' });
      spool(10, { hook_event_name: 'UserPromptSubmit', prompt_id: 'p2', prompt: 'and the docs' });
      appendFileSync(main, `${response(11, 'msg_b', 'claude-sonnet-4-5-20250929', { input: 10, output: 20, read: 1000 })}\n`);
      appendFileSync(main, `${response(12, 'msg_err', '<synthetic>', { input: 999, output: 999 }, { isApiErrorMessage: true })}\n`);
      appendFileSync(main, `${response(13, 'msg_c', 'claude-mystery-9', { input: 7, output: 3 }, { gitBranch: 'feature/docs' })}\n`);
      // The background subagent answers after the next prompt began: still the first prompt's.
      appendFileSync(agent, `${response(20, 'msg_s2', 'claude-haiku-4-5-20251001', { input: 30, output: 5 }, { isSidechain: true, agentId: 'ag1' })}\n`);
      spool(21, { hook_event_name: 'SubagentStop', prompt_id: 'p1', agent_id: 'ag1', agent_transcript_path: agent });
      spool(22, { hook_event_name: 'Stop', prompt_id: 'p2' });
      await syncNow(env);

      let s = await summaries(db, env.systemId);
      expect(s.get('p1')).toMatchObject({
        input_tokens: 180, output_tokens: 55, cache_creation_tokens: 1000, cache_read_tokens: 200, api_requests: 3,
        unpriced_models: [], git_branch: 'main', git_branches: ['main'],
        models: {
          'claude-sonnet-4-5-20250929': { requests: 1, input_tokens: 100, output_tokens: 40, cache_creation_tokens: 1000, cache_read_tokens: 0, cost_usd: 0.00465 },
          'claude-haiku-4-5-20251001': { requests: 2, input_tokens: 80, output_tokens: 15, cache_creation_tokens: 0, cache_read_tokens: 200, cost_usd: 0.000175 },
        },
      });
      // sonnet 4.5: 100 × $3 + 40 × $15 + 1000 × $3.75; haiku 4.5: 80 × $1 + 15 × $5 + 200 × $0.10 (per million)
      expect(money(s.get('p1'))).toBe(0.004825);
      expect(s.get('p2')).toMatchObject({
        input_tokens: 17, output_tokens: 23, cache_creation_tokens: 0, cache_read_tokens: 1000, api_requests: 2,
        unpriced_models: ['claude-mystery-9'], git_branch: 'feature/docs', git_branches: ['main', 'feature/docs'],
      });
      expect(money(s.get('p2'))).toBe(0.00063); // the unpriced model's tokens count, its cost does not

      // Compaction rewrites the transcript (another file in its place, shorter), and a resumed
      // session copies earlier responses: nothing counted twice, nothing counted lost.
      rmSync(main);
      writeFileSync(main, `${response(11, 'msg_b', 'claude-sonnet-4-5-20250929', { input: 10, output: 20, read: 1000 })}\n${response(31, 'msg_d', 'claude-opus-4-5-20251101', { input: 2, output: 4 })}\n`);
      spool(30, { hook_event_name: 'UserPromptSubmit', prompt_id: 'p3', prompt: 'ship it' });
      spool(32, { hook_event_name: 'Stop', prompt_id: 'p3' });
      // The subagent's file is deleted (Claude Code's cleanup): its responses stay counted.
      rmSync(agent);
      spool(33, { hook_event_name: 'SessionEnd', agent_transcript_path: agent });
      await syncNow(env);

      s = await summaries(db, env.systemId);
      expect(s.get('p1')).toMatchObject({ input_tokens: 180, output_tokens: 55, api_requests: 3 });
      expect(money(s.get('p1'))).toBe(0.004825);
      expect(s.get('p2')).toMatchObject({ input_tokens: 17, output_tokens: 23, api_requests: 2 });
      expect(s.get('p3')).toMatchObject({ input_tokens: 2, output_tokens: 4, api_requests: 1, models: { 'claude-opus-4-5-20251101': expect.objectContaining({ cost_usd: 0.00011 }) } });
      // Sums over the remote equal the responses written, each once.
      const [total] = await db.query<{ input: string; output: string; requests: string }>(
        'select sum(input_tokens) as input, sum(output_tokens) as output, sum(api_requests) as requests from task_summaries where system_id = $1', [env.systemId]);
      expect(total).toEqual({ input: String(100 + 50 + 30 + 10 + 7 + 2), output: String(40 + 10 + 5 + 20 + 3 + 4), requests: '6' });
    } finally {
      env.cleanup();
    }
  });

  pgTest('says how a task went: its outcome, permission prompts and waits, denials, compactions, failures per tool and model switches', async ({ db }) => {
    const { env, main, spool, response } = home(db);
    try {
      const tool = (s: number, event: string, name: string, id: string | undefined, more: Record<string, unknown> = {}) =>
        spool(s, { hook_event_name: event, prompt_id: 'h1', tool_name: name, ...(id ? { tool_use_id: id } : {}), tool_input: { command: 'make' }, ...more });
      spool(0, { hook_event_name: 'UserPromptSubmit', prompt_id: 'h1' });
      appendFileSync(main, `${response(0.5, 'm1', 'claude-sonnet-4-5', { input: 1 })}\n`);
      tool(1, 'PreToolUse', 'Write', 'w1');
      tool(1.5, 'PermissionRequest', 'Write', undefined); // the person takes 8 s to allow it
      tool(9.5, 'PostToolUse', 'Write', 'w1');
      appendFileSync(main, `${response(11, 'm2', 'claude-opus-4-5', { input: 1 })}\n${response(12.5, 'm3', 'claude-opus-4-5', { input: 1 })}\n`);
      tool(10, 'PreToolUse', 'Bash', 'b1');
      tool(10.5, 'PermissionRequest', 'Bash', undefined); // denied 1.5 s later
      tool(12, 'PermissionDenied', 'Bash', 'b1', { reason: 'rule' });
      tool(13, 'PreToolUse', 'Bash', 'b2');
      tool(14, 'PostToolUseFailure', 'Bash', 'b2', { error: 'Exit code 2' });
      appendFileSync(main, `${response(14.5, 'm4', 'claude-sonnet-4-5', { input: 1 })}\n`);
      spool(15, { hook_event_name: 'PreCompact', prompt_id: 'h1', trigger: 'auto' });
      spool(16, { hook_event_name: 'PostCompact', prompt_id: 'h1', trigger: 'auto' });
      spool(17, { hook_event_name: 'StopFailure', prompt_id: 'h1', error: 'rate_limit', error_details: '429 Too Many Requests' });
      // The next prompt is interrupted: no Stop, and the session ends.
      spool(20, { hook_event_name: 'UserPromptSubmit', prompt_id: 'h2' });
      spool(25, { hook_event_name: 'SessionEnd', reason: 'prompt_input_exit' });
      await syncNow(env);
      const s = await summaries(db, env.systemId);
      expect(s.get('h1')).toMatchObject({
        status: 'closed', outcome: 'failed', failure_kind: 'rate_limit', permission_requests: 2, permission_denials: 1,
        compactions: 1, tools_used: { Bash: 2, Write: 1 }, tool_failures: { Bash: 1 }, model_switches: 2, api_requests: 4,
      });
      expect(Number(s.get('h1')?.permission_wait_seconds)).toBe(9.5);
      expect(s.get('h2')).toMatchObject({ status: 'closed', outcome: 'interrupted', failure_kind: null, permission_requests: 0, permission_wait_seconds: '0', tool_failures: {} });
    } finally {
      env.cleanup();
    }
  });

  pgTest('names the repository, its remote without credentials, and the worktree it ran in', async ({ db }) => {
    const { env, spool } = home(db);
    try {
      const repo = path.join(env.dir, 'api-server');
      const worktree = path.join(env.dir, 'api-server-feat');
      const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: 'pipe', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
      mkdirSync(path.join(repo, 'src'), { recursive: true });
      git(repo, 'init', '-q', '-b', 'main');
      git(repo, 'commit', '-q', '--allow-empty', '-m', 'first');
      git(repo, 'remote', 'add', 'origin', 'https://bob:ghp_s3cret@github.com/bobco/api-server.git');
      git(repo, 'worktree', 'add', '-q', '-b', 'feat/healthz', worktree);
      spool(0, { hook_event_name: 'UserPromptSubmit', prompt_id: 'w1', cwd: worktree });
      spool(1, { hook_event_name: 'Stop', prompt_id: 'w1', cwd: worktree });
      spool(2, { hook_event_name: 'UserPromptSubmit', prompt_id: 'w2', cwd: path.join(repo, 'src') });
      spool(3, { hook_event_name: 'Stop', prompt_id: 'w2', cwd: path.join(repo, 'src') });
      await syncNow(env);
      const s = await summaries(db, env.systemId);
      expect(s.get('w1')).toMatchObject({ repo: 'github.com/bobco/api-server', repo_root: worktree, worktree, git_branch: 'feat/healthz' });
      expect(s.get('w2')).toMatchObject({ repo: 'github.com/bobco/api-server', repo_root: repo, worktree: null, git_branch: 'main' });
      const [{ n }] = await db.query<{ n: string }>("select count(*) as n from task_summaries where system_id = $1 and row_to_json(task_summaries)::text like '%s3cret%'", [env.systemId]);
      expect(n).toBe('0');
    } finally {
      env.cleanup();
    }
  });

  pgTest('uploads salted hashes of paths and repository names with hooks.paths: hashed, and wants the fleet\'s salt for it', async ({ db }) => {
    const salt = 'fleet-salt-0123456789abcdef';
    const c = claudeSession(db.url, { cwd: '/home/alice/src/secret-project', config: { hooks: { paths: 'hashed' } } });
    try {
      c.spool(0, { hook_event_name: 'UserPromptSubmit', prompt_id: 'x1' });
      c.spool(1, { hook_event_name: 'PostToolUse', prompt_id: 'x1', tool_name: 'Write', tool_use_id: 'w', tool_input: { file_path: '/home/alice/src/secret-project/src/plans.md', content: 'x' } });
      c.spool(2, { hook_event_name: 'PostToolUseFailure', prompt_id: 'x1', tool_name: 'Edit', tool_use_id: 'e', tool_input: { file_path: '/etc/shadow' }, error: 'denied' });
      c.spool(3, { hook_event_name: 'Stop', prompt_id: 'x1' });
      const refused = await runCli(['sync', 'now'], { env: c.env.env });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/hooks\.paths: hashed needs CCM_SYNC_PATH_SALT/);
      const r = await runCli(['sync', 'now', '--json'], { env: { ...c.env.env, CCM_SYNC_PATH_SALT: salt } });
      expect(r.code, r.stderr).toBe(0);
      const row = (await summaries(db, c.env.systemId)).get('x1')!;
      expect(row).toMatchObject({ cwd: hashed(salt, '/home/alice/src/secret-project'), files_modified: [hashed(salt, '/etc/shadow'), hashed(salt, 'src/plans.md')] });
      expect((row.errors as { target: string }[])[0]!.target).toBe(hashed(salt, '/etc/shadow'));
      expect(JSON.stringify(row)).not.toMatch(/secret-project|plans\.md|shadow/);
      expect(r.stdout + r.stderr).not.toContain(salt);
    } finally {
      c.env.cleanup();
    }
  });

  pgTest('prices with hooks.pricing_file over the shipped table, and refuses a bad one by name while the events are still recorded', async ({ db }) => {
    const { env, main, spool, response } = home(db);
    try {
      const prices = path.join(env.dir, '.ccm-global', 'prices.yaml');
      writeFileSync(prices, 'models:\n  claude-mystery-9: { input: 1, output: 2, cache_write: 0, cache_read: 0 }\n');
      writeFileSync(env.configPath, `system: { id: ${env.systemId} }\nlog_level: silent\napi: { port: 0 }\nremote: { kind: postgres }\nhooks: { pricing_file: prices.yaml }\n`);
      spool(0, { hook_event_name: 'UserPromptSubmit', prompt_id: 'q1' });
      appendFileSync(main, `${response(1, 'msg_q', 'claude-mystery-9', { input: 1_000_000, output: 500_000 })}\n`);
      spool(2, { hook_event_name: 'Stop', prompt_id: 'q1' });
      await syncNow(env);
      let s = await summaries(db, env.systemId);
      expect(money(s.get('q1'))).toBe(2); // 1M × $1 + 0.5M × $2
      expect(s.get('q1')).toMatchObject({ unpriced_models: [] });

      writeFileSync(prices, 'models:\n  claude-mystery: { input: "cheap" }\n');
      spool(3, { hook_event_name: 'UserPromptSubmit', prompt_id: 'q2' });
      appendFileSync(main, `${response(4, 'msg_r', 'claude-mystery-9', { input: 10 })}\n`);
      spool(5, { hook_event_name: 'Stop', prompt_id: 'q2' });
      const r = await syncNow(env);
      expect(r.stderr).toContain(`warning: a coding-agent transcript could not be read (price table ${prices}: models.claude-mystery.input: `);
      // …and `sync status` says so afterwards, for whoever did not see that run.
      expect((await runCli(['sync', 'status'], { env: env.env })).stdout).toMatch(/a transcript could not be read at .*price table/);
      s = await summaries(db, env.systemId);
      expect(s.get('q2')).toMatchObject({ status: 'closed', total_events: 2, api_requests: 0 });
      // doctor says so, and a daemon will not start on it.
      const doctor = JSON.parse((await runCli(['doctor', '--json', '--no-remote'], { env: env.env })).stdout) as { checks: { name: string; level: string; detail: string }[] };
      expect(doctor.checks.find((c) => c.name === 'prices')).toMatchObject({ level: 'fail', detail: expect.stringMatching(/models\.claude-mystery\.input/) });
      const start = await runCli(['start'], { env: env.env });
      expect(start.code).toBe(2);
      expect(start.stderr).toMatch(/price table .*prices\.yaml: models\.claude-mystery\.input/);
      // A price table that is not there at all is a config error, before anything is read without it.
      rmSync(prices);
      const missing = await runCli(['sync', 'now'], { env: env.env });
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/hooks\.pricing_file: .*prices\.yaml does not exist/);
    } finally {
      env.cleanup();
    }
  });

  it('keeps only host and path of a remote URL, whatever its form', () => {
    expect(cleanRemote('git@github.com:bobco/api-server.git')).toBe('github.com/bobco/api-server');
    expect(cleanRemote('ssh://git@gitlab.example.com:2222/team/app.git')).toBe('gitlab.example.com/team/app');
    expect(cleanRemote('https://oauth2:glpat-XYZ@gitlab.com/team/app?ref=1')).toBe('gitlab.com/team/app');
    expect(cleanRemote('/srv/git/app.git')).toBe('/srv/git/app');
    expect(cleanRemote('file:///srv/git/app.git/')).toBe('/srv/git/app');
    expect(cleanRemote('')).toBeNull();
  });
});

describe('the price of a model', () => {
  const table = loadPricing();
  const input = (model: string) => priceOf(table, model)?.input;

  it('is its version\'s, whatever date or provider suffix follows, and none for a version the table does not know', () => {
    expect(input('claude-opus-4-20250514')).toBe(15);
    expect(input('claude-opus-4-1-20250805')).toBe(15);
    expect(input('claude-opus-4-5-20251101')).toBe(5);
    expect(input('claude-opus-4@20250514')).toBe(15);
    expect(input('us.anthropic.claude-sonnet-4-5-20250929-v1:0')).toBe(3);
    expect(input('claude-sonnet-4-5-20250929[1m]')).toBe(3);
    expect(input('claude-3-5-sonnet-latest')).toBe(3);
    // The API's aliases for the first version of a family, and Bedrock's regional prefixes.
    expect(input('claude-opus-4-0')).toBe(15);
    expect(input('claude-sonnet-4-0')).toBe(3);
    expect(input('apac.anthropic.claude-sonnet-4-5-20250929-v1:0')).toBe(3);
    expect(input('us-gov.anthropic.claude-haiku-4-5-20251001-v1:0')).toBe(1);
    // Another version is not the family's first one: claude-opus-4 was taken for these at $15.
    expect(input('claude-opus-4-8')).toBeUndefined();
    expect(input('claude-opus-4-10-20270101')).toBeUndefined();
    expect(input('claude-sonnet-5')).toBeUndefined();
  });
});
