/**
 * `ccm-sync report`: two systems' coding-agent tasks synced to a real Postgres, then summed by
 * system, repository, branch, model and day, read as the database owner and through PostgREST with
 * the secret key. The figures are checked against the remote's own sums of the uploaded summaries.
 */
import { appendFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.ts';
import { claudeSession, type ClaudeSession } from './helpers/claude-session.ts';
import { makeEnv } from './helpers/env.ts';
import { mintToken } from './helpers/jwt.ts';
import { postgrestTest } from './helpers/fixtures.ts';

let alpha: ClaudeSession;
let beta: ClaudeSession;

/** One prompt: its responses (model, input, output, cost-free cache), then Stop or StopFailure. */
function prompt(c: ClaudeSession, at: number, id: string, responses: [string, number, number][], end: 'Stop' | 'StopFailure' = 'Stop') {
  c.spool(at, { hook_event_name: 'UserPromptSubmit', prompt_id: id });
  responses.forEach(([model, input, output], i) => appendFileSync(c.main, `${c.response(at + 1 + i, `${id}-m${i}`, model, { input, output, read: 1000 })}\n`));
  c.spool(at + 1 + responses.length, { hook_event_name: end, prompt_id: id, ...(end === 'StopFailure' ? { error: 'rate_limit' } : {}) });
}

postgrestTest.beforeAll(async ({ db }) => {
  alpha = claudeSession(db.url, { session: 'sess-alpha', start: '2026-11-30T09:00:00.000Z' });
  beta = claudeSession(db.url, { session: 'sess-beta', start: '2026-12-01T15:00:00.000Z' });
  prompt(alpha, 0, 'a1', [['claude-sonnet-4-5-20250929', 1200, 300], ['claude-haiku-4-5-20251001', 400, 80]]);
  prompt(alpha, 100, 'a2', [['claude-sonnet-4-5-20250929', 50, 7]], 'StopFailure');
  prompt(alpha, 86_400, 'a3', [['claude-opus-4-5-20251101', 999, 333]]); // the next day
  // beta's session starts before its prompt: that SessionStart is summarised as the session's "#0", no task of anyone's.
  beta.spool(0, { hook_event_name: 'SessionStart', source: 'startup' });
  prompt(beta, 1, 'b1', [['claude-sonnet-4-5-20250929', 10, 20], ['claude-sonnet-4-5-20250929', 30, 40]]);
  for (const c of [alpha, beta]) expect((await runCli(['sync', 'now'], { env: c.env.env })).code).toBe(0);
});
afterAll(async () => {
  alpha.env.cleanup();
  beta.env.cleanup();
});

async function report(args: string[], env: NodeJS.ProcessEnv = alpha.env.env) {
  const r = await runCli(['report', ...args, '--since', '2026-11-01', '--json'], { env });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { lines: Record<string, unknown>[]; total: Record<string, unknown> };
}

describe('ccm-sync report', () => {
  postgrestTest('sums the uploaded summaries exactly, by system', async ({ db }) => {
    const r = await report(['--by', 'system']);
    const sums = await db.query<{ system_id: string; tasks: string; input: string; output: string; requests: string; cost: string }>(
      `select system_id, count(*) filter (where prompt_count > 0) as tasks, sum(input_tokens) as input, sum(output_tokens) as output, sum(api_requests) as requests, sum(cost_usd)::text as cost
       from task_summaries where system_id in ($1, $2) group by system_id order by system_id`, [alpha.env.systemId, beta.env.systemId]);
    expect(sums).toHaveLength(2);
    // The "#0" is on the remote, and is not counted as a task (it doubled a one-prompt session's count).
    expect(await db.query('select prompt_count from task_summaries where system_id = $1 order by prompt_count', [beta.env.systemId])).toEqual([{ prompt_count: 0 }, { prompt_count: 1 }]);
    for (const s of sums) {
      expect(r.lines.find((l) => l.key === s.system_id)).toMatchObject({
        tasks: Number(s.tasks), input_tokens: Number(s.input), output_tokens: Number(s.output), api_requests: Number(s.requests), cost_usd: Number(s.cost),
      });
    }
    // alpha: 3 tasks, one failed (a2's StopFailure): a failure rate of a third.
    expect(r.lines.find((l) => l.key === alpha.env.systemId)).toMatchObject({ tasks: 3, ended: 3, failed: 1, failure_rate: 1 / 3 });
    expect(r.total).toMatchObject({ tasks: 4, input_tokens: 1200 + 400 + 50 + 999 + 10 + 30, output_tokens: 300 + 80 + 7 + 333 + 20 + 40 });
  });

  it('splits a task across its models, and days by the task\'s start', async () => {
    const byModel = await report(['--by', 'model']);
    expect(byModel.lines.find((l) => l.key === 'claude-sonnet-4-5-20250929')).toMatchObject({ tasks: 3, api_requests: 4, input_tokens: 1200 + 50 + 10 + 30 });
    expect(byModel.lines.find((l) => l.key === 'claude-haiku-4-5-20251001')).toMatchObject({ tasks: 1, input_tokens: 400, output_tokens: 80 });
    // Most expensive first: opus's 999 in × $5 + 333 out × $25 (+ 1000 cache reads × $0.50) per million.
    expect(byModel.lines[0]).toMatchObject({ key: 'claude-opus-4-5-20251101', cost_usd: (999 * 5 + 333 * 25 + 1000 * 0.5) / 1e6 });
    const byDay = await report(['--by', 'day']);
    expect(byDay.lines.map((l) => [l.key, l.tasks]).sort()).toEqual([['2026-11-30', 2], ['2026-12-01', 2]]);
  });

  postgrestTest('reads the same figures through PostgREST with the secret key, and refuses what cannot read every system', async ({ rest }) => {
    const operator = makeEnv({ remote: { kind: 'supabase' } }, { SUPABASE_URL: rest.url, SUPABASE_SECRET_KEY: await mintToken({ role: 'service_role' }) });
    try {
      expect(await report(['--by', 'system'], operator.env)).toEqual(await report(['--by', 'system']));
      const own = await runCli(['report'], { env: { ...operator.env, SUPABASE_SECRET_KEY: await mintToken({ role: 'authenticated', system_id: alpha.env.systemId }) } });
      expect(own.code).toBe(2);
      expect(own.stderr).toMatch(/SUPABASE_SECRET_KEY holds a key that may read only its own rows/);
    } finally {
      operator.cleanup();
    }
    const bad = await runCli(['report', '--by', 'colour'], { env: alpha.env.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--by "colour": choose one of system, repo, branch, model, day/);
    const since = await runCli(['report', '--since', 'last tuesday'], { env: alpha.env.env });
    expect(since.code).toBe(2);
    expect(since.stderr).toMatch(/--since "last tuesday" is neither a span \(7d, 12h, 30m\) nor a date/);
  });
});
