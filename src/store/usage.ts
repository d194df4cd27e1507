/**
 * `transcript_usage` and `transcript_cursors`: what each API response of a coding-agent session
 * used (read from its transcript by hooks/transcript.ts), and how far each transcript has been read.
 *
 * A response belongs to a task as the hook events say:
 *   - a subagent's response (agent_id) belongs to the task of the subagent's first hook event, the
 *     prompt that started it, however late it runs (hooks/claude.ts assigns its events the same way);
 *   - any other response of the session belongs to the prompt whose UserPromptSubmit came last
 *     before it: from the task's first prompt up to the session's next prompt of another task.
 * The attribution is made when the summary is computed, so responses read before their hook
 * events are recorded (a spool drained late) still land in the right task.
 */
import { statements, type Db } from './db.ts';
import { readTranscript, type TranscriptCursor, type UsageLine } from '../hooks/transcript.ts';
import { costOf, type PriceTable } from '../hooks/pricing.ts';

/** A task's usage: totals, and per model. */
export interface TaskUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_tokens: number;
  cache_read_tokens: number;
  api_requests: number;
  /** Estimated from the price table; null when no response had a priced model. */
  cost_usd: number | null;
  models: Record<string, { requests: number; input_tokens: number; output_tokens: number; cache_creation_tokens: number; cache_read_tokens: number; cost_usd: number | null }>;
  /** Models with no price in the table: their tokens count, their cost does not. */
  unpriced_models: string[];
  /** The git branches the task's responses were made on, in order (more than one: it switched). */
  git_branches: string[];
  /** How often the main thread's model changed (/model, or a fallback); subagents' models aside. */
  model_switches: number;
}

/** The responses of a task (@task): see the rules above. */
const OF_TASK = `
  WITH span AS (
    SELECT s.session, s.start,
           (SELECT min(h.timestamp) FROM hook_events h WHERE h.session_id = s.session AND h.event_name = 'UserPromptSubmit'
              AND h.timestamp > s.start AND h.task_id <> @task) AS until
    FROM (SELECT (SELECT session_id FROM hook_events WHERE task_id = @task AND session_id IS NOT NULL ORDER BY id LIMIT 1) AS session,
                 (SELECT min(timestamp) FROM hook_events WHERE task_id = @task AND event_name = 'UserPromptSubmit') AS start) s),
  mine AS (
    SELECT u.* FROM transcript_usage u, span
    WHERE u.session_id = span.session AND CASE
      WHEN u.agent_id IS NOT NULL AND EXISTS (SELECT 1 FROM hook_events h WHERE h.agent_id = u.agent_id)
        THEN (SELECT task_id FROM hook_events h WHERE h.agent_id = u.agent_id ORDER BY id LIMIT 1) = @task
      ELSE span.start IS NOT NULL AND u.at >= span.start AND (span.until IS NULL OR u.at < span.until) END)`;

const USAGE_SQL = {
  // upsert: one response; seen again, it keeps the largest figures (a streamed response's usage
  // only grows) and its first time. Params: UsageLine & {cost_usd}.
  upsert: `
    INSERT INTO transcript_usage (key, session_id, agent_id, at, model, input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd, git_branch)
    VALUES (@key, @session_id, @agent_id, @at, @model, @input_tokens, @output_tokens, @cache_creation_tokens, @cache_read_tokens, @cost_usd, @git_branch)
    ON CONFLICT (key) DO UPDATE SET
      agent_id = coalesce(agent_id, excluded.agent_id), at = min(at, excluded.at),
      input_tokens = max(input_tokens, excluded.input_tokens), output_tokens = max(output_tokens, excluded.output_tokens),
      cache_creation_tokens = max(cache_creation_tokens, excluded.cache_creation_tokens),
      cache_read_tokens = max(cache_read_tokens, excluded.cache_read_tokens),
      cost_usd = max(cost_usd, excluded.cost_usd), git_branch = coalesce(git_branch, excluded.git_branch)`,
  // cursor: how far a transcript was read. Params: path. Returns: {inode, offset} or undefined.
  cursor: 'SELECT inode, offset FROM transcript_cursors WHERE path = ?',
  // saveCursor: Params: path, inode, offset, read_at.
  saveCursor: `INSERT INTO transcript_cursors (path, inode, offset, read_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (path) DO UPDATE SET inode = excluded.inode, offset = excluded.offset, read_at = excluded.read_at`,
  // pruneOld: responses older than a time of sessions with no prompt left in hook_events (their
  // tasks' events were pruned), and cursors of transcripts unread since then. Params: before, limit.
  pruneOld: `DELETE FROM transcript_usage WHERE key IN (
    SELECT key FROM transcript_usage u WHERE at < @before
      AND NOT EXISTS (SELECT 1 FROM hook_events h WHERE h.session_id = u.session_id AND h.event_name = 'UserPromptSubmit') LIMIT @limit)`,
  pruneCursors: 'DELETE FROM transcript_cursors WHERE read_at < ?',
  // responses: a task's responses, in order: what forTask sums. Params: {task}.
  responses: `${OF_TASK}
    SELECT model, agent_id, git_branch, input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd
    FROM mine ORDER BY at, key`,
};

const TOKEN_KINDS = ['input_tokens', 'output_tokens', 'cache_creation_tokens', 'cache_read_tokens'] as const;
type ResponseRow = Record<(typeof TOKEN_KINDS)[number], number> & { cost_usd: number | null };

export class TranscriptUsage {
  private readonly stmts;
  private readonly db: Db;
  /** The price table, loaded when first needed (hooks/pricing.ts). */
  private readonly pricing: () => PriceTable;

  constructor(db: Db, pricing: () => PriceTable) {
    this.db = db;
    this.pricing = pricing;
    this.stmts = statements(db, USAGE_SQL);
  }

  /**
   * Reads what each transcript gained since last time and records its responses, with the cursor,
   * in one transaction: a crash reads the same lines again, which count nothing twice.
   * Returns how many response lines were read.
   */
  catchUp(files: readonly string[], nowIso: string): number {
    let read = 0;
    for (const file of files) {
      const from = this.stmts.cursor.get(file) as TranscriptCursor | undefined;
      const lines: UsageLine[] = [];
      const next = readTranscript(file, from, (u) => lines.push(u));
      if (!next || (from && next.offset === from.offset && next.inode === from.inode)) continue;
      const table = lines.length ? this.pricing() : undefined;
      this.db.transaction(() => {
        for (const u of lines) this.stmts.upsert.run({ ...u, cost_usd: costOf(table!, u) });
        this.stmts.saveCursor.run(file, next.inode, next.offset, nowIso);
      }).immediate();
      read += lines.length;
    }
    return read;
  }

  /** Deletes responses no task can claim any more (retention.ts), `chunk` at a time. Returns how many went. */
  async prune(beforeIso: string, chunk: number, breathe: () => Promise<unknown>): Promise<number> {
    let removed = 0;
    for (let n = chunk; n === chunk; removed += n) {
      n = this.stmts.pruneOld.run({ before: beforeIso, limit: chunk }).changes;
      await breathe();
    }
    this.stmts.pruneCursors.run(beforeIso);
    return removed;
  }

  /** What a task's responses used, or undefined when none are known: one read of them, summed here. */
  forTask(taskId: string): TaskUsage | undefined {
    const rows = this.stmts.responses.all({ task: taskId }) as (ResponseRow & { model: string; agent_id: string | null; git_branch: string | null })[];
    if (rows.length === 0) return undefined;
    const u: TaskUsage = { input_tokens: 0, output_tokens: 0, cache_creation_tokens: 0, cache_read_tokens: 0, api_requests: 0, cost_usd: null, models: {}, unpriced_models: [], git_branches: [], model_switches: 0 };
    let mainModel: string | undefined;
    for (const r of rows) {
      const m = (u.models[r.model] ??= { requests: 0, input_tokens: 0, output_tokens: 0, cache_creation_tokens: 0, cache_read_tokens: 0, cost_usd: r.cost_usd === null ? null : 0 });
      m.requests += 1;
      for (const k of TOKEN_KINDS) {
        m[k] += r[k];
        u[k] += r[k];
      }
      if (r.cost_usd !== null) m.cost_usd = (m.cost_usd ?? 0) + r.cost_usd;
      u.api_requests += 1;
      if (r.git_branch && !u.git_branches.includes(r.git_branch)) u.git_branches.push(r.git_branch);
      if (r.agent_id === null) {
        if (mainModel !== undefined && r.model !== mainModel) u.model_switches += 1;
        mainModel = r.model;
      }
    }
    for (const [model, m] of Object.entries(u.models)) {
      if (m.cost_usd === null) u.unpriced_models.push(model);
      else u.cost_usd = roundNano((u.cost_usd ?? 0) + (m.cost_usd = roundNano(m.cost_usd)));
    }
    u.unpriced_models.sort();
    return u;
  }
}

/** Costs are estimates: kept to a billionth of a dollar (finer than any price), so sums on the remote stay exact decimals. */
const roundNano = (x: number) => Math.round(x * 1e9) / 1e9;
