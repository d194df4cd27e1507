/**
 * A Claude Code session written as Claude Code writes it, for tests that need exact transcripts:
 * a ccm-sync home (on a Postgres remote), the session's transcript and a subagent's, assistant
 * lines as Claude Code writes one per content block, and hook payloads spooled with chosen times.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spoolDir, spoolPayload } from '../../src/hooks/spool.ts';
import { makeEnv, type TestEnv } from './env.ts';

export interface Usage { input?: number; output?: number; write?: number; read?: number }

export interface ClaudeSession {
  env: TestEnv;
  session: string;
  /** The session's transcript, and its subagent ag1's. */
  main: string;
  agent: string;
  /** The time `s` seconds into the session. */
  at(s: number): string;
  /** An assistant line of response `id`, `s` seconds in. */
  response(s: number, id: string, model: string, u: Usage, extra?: Record<string, unknown>): string;
  /** Spools a hook payload as the hook would, `s` seconds in. */
  spool(s: number, payload: Record<string, unknown>): void;
}

export function claudeSession(dbUrl: string, opts: { session?: string; start?: string; cwd?: string; config?: Record<string, unknown> } = {}): ClaudeSession {
  const session = opts.session ?? 'a3c1e0f2-5b7d-4e19-8c2a-6f0d9b1e4a27';
  const t0 = Date.parse(opts.start ?? '2026-11-30T09:00:00.000Z');
  const cwd = opts.cwd ?? '/home/alice/src/demo';
  const at = (s: number) => new Date(t0 + s * 1000).toISOString();
  const env = makeEnv({ remote: { kind: 'postgres' }, ...opts.config }, { CCM_SYNC_DATABASE_URL: dbUrl });
  const projects = path.join(env.dir, 'claude-projects');
  const main = path.join(projects, `${session}.jsonl`);
  const agent = path.join(projects, session, 'subagents', 'agent-ag1.jsonl');
  mkdirSync(path.dirname(agent), { recursive: true });
  writeFileSync(main, `${JSON.stringify({ type: 'user', timestamp: at(0), sessionId: session, message: { role: 'user', content: 'fix the build' } })}\n`);
  writeFileSync(agent, '');
  const dir = spoolDir(path.join(env.dir, '.ccm-global'));
  return {
    env, session, main, agent, at,
    response: (s, id, model, u, extra = {}) => JSON.stringify({
      type: 'assistant', uuid: `${id}-${s}`, parentUuid: null, timestamp: at(s), sessionId: session, cwd, version: '2.1.328',
      gitBranch: 'main', requestId: `req_${id}`, isSidechain: false,
      message: {
        id, model, role: 'assistant', type: 'message', content: [{ type: 'text', text: 'ok' }], stop_reason: null,
        usage: { input_tokens: u.input ?? 0, output_tokens: u.output ?? 0, cache_creation_input_tokens: u.write ?? 0, cache_read_input_tokens: u.read ?? 0, service_tier: 'standard' },
      },
      ...extra,
    }),
    spool: (s, payload) => spoolPayload(dir, JSON.stringify({ session_id: session, transcript_path: main, cwd, ...payload }), undefined, t0 + s * 1000),
  };
}
