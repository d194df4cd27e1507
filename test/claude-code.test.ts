/**
 * A real Claude Code (2.1.328, the devDependency) with ccm-sync's hooks, as a new user meets it:
 * `hook install` into a fresh user's ~/.claude/settings.json, then `claude -p` in a git repository
 * against a scripted Messages API on loopback (helpers/messages-api.ts), a failing command, a
 * write, an edit, a subagent, and a resumed second prompt. `sync now` then puts the task summaries
 * on a real Postgres, where the test checks what each task did, used and cost: the tokens are the
 * sums the API sent, and the cost is what Claude Code itself reports for the run.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import { runCli } from './helpers/cli.ts';
import { makeEnv, type TestEnv } from './helpers/env.ts';
import { startMessagesApi, type MessagesApi, type Step } from './helpers/messages-api.ts';
import { scaled } from './helpers/wait.ts';
import { pgTest } from './helpers/fixtures.ts';

const CLAUDE = path.resolve('node_modules/.bin/claude');
const PATH_WITH_CLAUDE = `${path.dirname(CLAUDE)}:${process.env.PATH}`;
const MODEL = 'claude-sonnet-4-5-20250929';

const usage = (i: number): Step['usage'] => ({ input_tokens: 100 + i, output_tokens: 10 + i, cache_creation_input_tokens: 1000 * (i % 2), cache_read_input_tokens: 500 + 7 * i });

let api: MessagesApi;
let root: string;
let env: TestEnv;
let userHome: string;
let repo: string;

pgTest.beforeAll(async ({ db }) => {
  root = mkdtempSync(path.join(tmpdir(), 'ccm-claude-'));
  repo = path.join(root, 'widgets');
  userHome = path.join(root, 'alice');
  mkdirSync(repo);
  mkdirSync(userHome);
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, stdio: 'pipe', env: { ...process.env, GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@a', GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@a' } });
  git('init', '-q', '-b', 'feature/login');
  git('commit', '-q', '--allow-empty', '-m', 'start');
  git('remote', 'add', 'origin', 'https://alice:ghp_t0ken@github.com/acme/widgets.git');
  const notes = path.join(repo, 'notes.md');
  api = await startMessagesApi({
    'TASK-ONE': [
      { blocks: [{ type: 'text', text: 'Looking first.' }, { type: 'tool_use', name: 'Bash', input: { command: 'ls /nonexistent-ccm-dir', description: 'look' } }], usage: usage(0) },
      { blocks: [{ type: 'tool_use', name: 'Write', input: { file_path: notes, content: 'draft\n' } }], usage: usage(1) },
      { blocks: [{ type: 'tool_use', name: 'Edit', input: { file_path: notes, old_string: 'draft', new_string: 'final' } }], usage: usage(2) },
      { blocks: [{ type: 'tool_use', name: 'Agent', input: { description: 'Find callers', prompt: 'SUBAGENT-FIND: list the folder', subagent_type: 'general-purpose' } }], usage: usage(3) },
      { blocks: [{ type: 'text', text: 'All done.' }], usage: usage(4) },
    ],
    'SUBAGENT-FIND': [
      { blocks: [{ type: 'tool_use', name: 'Bash', input: { command: 'ls', description: 'list' } }], usage: usage(5) },
      { blocks: [{ type: 'text', text: 'notes.md is there.' }], usage: usage(6) },
    ],
    'TASK-TWO': [
      { blocks: [{ type: 'tool_use', name: 'Bash', input: { command: 'git status --short', description: 'status' } }], usage: usage(7) },
      { blocks: [{ type: 'text', text: 'Clean enough.' }], usage: usage(8) },
    ],
  });
  env = makeEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: db.url });
});
afterAll(async () => {
  await api.close();
  env.cleanup();
  rmSync(root, { recursive: true, force: true });
});

interface ClaudeRun { code: number | null; result: { session_id: string; total_cost_usd: number; is_error: boolean }; stderr: string }

/** `claude -p` as a user runs it, pointed at the scripted API. */
function claude(args: string[]): Promise<ClaudeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLAUDE, ['-p', ...args, '--model', MODEL, '--allowedTools', 'Bash Write Edit Agent', '--output-format', 'json'], {
      cwd: repo,
      env: {
        PATH: PATH_WITH_CLAUDE, HOME: userHome, ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'sk-ant-api03-test-only',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', ...env.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), scaled(120_000));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        resolve({ code, result: JSON.parse(stdout) as ClaudeRun['result'], stderr });
      } catch {
        reject(new Error(`claude -p printed no JSON result (exit ${code}): ${stdout.slice(0, 500)} ${stderr.slice(0, 500)}`));
      }
    });
  });
}

const sum = (markers: string[]) => {
  const mine = api.sent.filter((s) => s.marker !== null && markers.includes(s.marker));
  const total = (k: keyof Step['usage']) => mine.reduce((a, s) => a + s.usage[k], 0);
  return { requests: mine.length, input_tokens: total('input_tokens'), output_tokens: total('output_tokens'), cache_creation_tokens: total('cache_creation_input_tokens'), cache_read_tokens: total('cache_read_input_tokens') };
};

describe('a real Claude Code session', () => {
  pgTest('is summarised per prompt on the remote: tools, files, the failed command, tokens, cost, model, repository and branch', { timeout: scaled(300_000) }, async ({ db }) => {
    const install = await runCli(['hook', 'install', '--json'], { env: { ...env.env, HOME: userHome, PATH: PATH_WITH_CLAUDE }, cwd: repo });
    expect(install.code, install.stderr).toBe(0);
    expect(JSON.parse(install.stdout)).toMatchObject({ claude_version: '2.1.328', file: path.join(userHome, '.claude', 'settings.json') });

    const first = await claude(['TASK-ONE: tidy the notes']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.result.is_error).toBe(false);
    const second = await claude(['--resume', first.result.session_id, 'TASK-TWO: check the status']);
    expect(second.code, second.stderr).toBe(0);
    // Claude Code says nothing about the settings ccm-sync wrote (an unknown event would be named here).
    expect(`${first.stderr}${second.stderr}`).not.toMatch(/hook|settings|invalid/i);
    expect(readFileSync(path.join(repo, 'notes.md'), 'utf8')).toBe('final\n');

    const sync = await runCli(['sync', 'now', '--json'], { env: env.env });
    expect(sync.code, sync.stderr).toBe(0);
    const rows = await db.query<Record<string, unknown>>(
      "select * from task_summaries where system_id = $1 and session_id = $2 and prompt_count = 1 order by first_event_at", [env.systemId, first.result.session_id]);
    // Claude Code 2.1.328 runs the subagent in the background: its completion notice comes back as
    // a prompt of its own (a task with no tools), between the two prompts.
    expect(rows).toHaveLength(3);
    const [one, notice, two] = rows as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
    expect(notice).toMatchObject({ status: 'closed', tools_used: {}, input_tokens: 0, output_tokens: 0 });

    const u1 = sum(['TASK-ONE', 'SUBAGENT-FIND']);
    expect(one).toMatchObject({
      status: 'closed', outcome: 'completed', tools_used: { Agent: 1, Bash: 2, Edit: 1, Write: 1 }, files_modified: ['notes.md'],
      error_count: 1, errors: [expect.objectContaining({ tool_name: 'Bash', target: 'ls /nonexistent-ccm-dir' })], tool_failures: { Bash: 1 },
      api_requests: u1.requests, input_tokens: u1.input_tokens, output_tokens: u1.output_tokens,
      cache_creation_tokens: u1.cache_creation_tokens, cache_read_tokens: u1.cache_read_tokens,
      models: { [MODEL]: expect.objectContaining({ requests: u1.requests }) }, unpriced_models: [],
      repo: 'github.com/acme/widgets', repo_root: repo, git_branch: 'feature/login', cwd: repo,
    });
    // What Claude Code itself reports for the run (the notice's request used nothing).
    expect(Number(one.cost_usd) + Number(notice.cost_usd)).toBeCloseTo(first.result.total_cost_usd, 8);
    const u2 = sum(['TASK-TWO']);
    // The last tool call of a -p run: its events are recorded although Claude Code exits right after.
    expect(two).toMatchObject({ status: 'closed', outcome: 'completed', tools_used: { Bash: 1 }, commands_run: ['git status --short'], api_requests: u2.requests, input_tokens: u2.input_tokens, output_tokens: u2.output_tokens, git_branch: 'feature/login' });
    // A resumed session's total counts the first run too.
    expect(Number(two.cost_usd)).toBeCloseTo(second.result.total_cost_usd - first.result.total_cost_usd, 8);
    expect(JSON.stringify(rows)).not.toContain('ghp_t0ken');
  });
});
