/**
 * `hook_events` and `hook_sessions`: coding-agent hook events, kept whole locally (the payload as
 * JSON, long strings truncated by the recorder), and the statements that turn a task's events into
 * its summary. The remote only ever gets the summary.
 *
 * A summary is computed from every event of the task, not just the pending ones, so a later batch
 * updates it correctly and uploading it again after a crash changes nothing (its values are
 * absolute, never increments). It is computed by SQLite's JSON functions: large payloads are never
 * parsed in JavaScript.
 */
import { statements, type Db } from './db.ts';

/** Tools whose input names a file they write. */
const FILE_TOOLS = ['Edit', 'Write', 'MultiEdit', 'NotebookEdit'];
/** Events that end a task: the agent stopped (or failed to), or the session ended. */
export const CLOSING_EVENTS: readonly string[] = ['Stop', 'StopFailure', 'SessionEnd'];
/** Events that are not the task's work: they neither reopen a closed task nor lengthen it. */
const AROUND_WORK = ['Notification', 'PreCompact', 'PostCompact', 'SessionStart', 'InstructionsLoaded', 'ConfigChange', 'CwdChanged', 'FileChanged', 'DirectoryAdded'];
/** A summary stays small whatever the task did: lists are capped, long texts cut. */
const MAX_FILES = 50;
const MAX_COMMANDS = 25;
const MAX_TEXT = 160;
const MAX_ERRORS = 10;
const MAX_PROMPT = 2000;
const MAX_PROMPTS = 20;

export interface HookEventRow {
  event_id: string;
  task_id: string;
  session_id: string | null;
  prompt_id: string | null;
  agent_id: string | null;
  event_name: string | null;
  tool_name: string | null;
  tool_use_id: string | null;
  cwd: string | null;
  success: number;
  timestamp: string;
  payload: string;
  payload_bytes: number | null;
}

export interface TaskSummary {
  task_id: string;
  session_id: string | null;
  cwd: string | null;
  status: 'open' | 'closed';
  total_events: number;
  prompt_count: number;
  tools_used: Record<string, number>;
  files_modified: string[];
  commands_run: string[];
  errors: { tool_name: string | null; event_name: string | null; message: string | null; target: string | null; timestamp: string }[];
  error_count: number;
  duration_seconds: number;
  first_event_at: string | null;
  last_event_at: string | null;
  closed_at: string | null;
  /** How it ended: completed (Stop), failed (StopFailure), interrupted (only SessionEnd closed it); null while open. */
  outcome: 'completed' | 'failed' | 'interrupted' | null;
  /** StopFailure's error kind: rate_limit, overloaded, billing_error, … */
  failure_kind: string | null;
  permission_requests: number;
  /** Seconds from each PermissionRequest to its tool's result (or denial), summed. */
  permission_wait_seconds: number;
  permission_denials: number;
  compactions: number;
  /** Failed calls per tool ({"Bash": 1}); tools_used has the calls. */
  tool_failures: Record<string, number>;
  /** The prompt texts, only when hooks.upload lists prompts (they land in the remote's extra). */
  prompts?: string[];
}

const list = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(', ');
const input = (field: string) => `json_extract(payload, '$.tool_input.${field}')`;
const relative = (expr: string) => `CASE WHEN cwd IS NOT NULL AND ${expr} LIKE cwd || '/%' THEN substr(${expr}, length(cwd) + 2) ELSE ${expr} END`;

/** The statements on hook_events, hook_sessions and hook_spool_done, prepared on first use. */
const HOOK_EVENTS_SQL = {
  // insert: one event; an event already kept for its task is ignored. Params: HookEventRow.
  insert: `
    INSERT OR IGNORE INTO hook_events (event_id, task_id, session_id, prompt_id, agent_id, event_name, tool_name, tool_use_id, cwd,
                                       success, timestamp, payload, payload_bytes)
    VALUES (@event_id, @task_id, @session_id, @prompt_id, @agent_id, @event_name, @tool_name, @tool_use_id, @cwd,
            @success, @timestamp, @payload, @payload_bytes)`,
  // session: a session's prompt count and current task. Params: session_id. Returns: {prompts, task_id}.
  session: 'SELECT prompts, task_id FROM hook_sessions WHERE session_id = ?',
  // prompt: a session starts a new task. Params: session_id, task_id.
  prompt: `
    INSERT INTO hook_sessions (session_id, prompts, task_id) VALUES (?, 1, ?)
    ON CONFLICT (session_id) DO UPDATE SET prompts = prompts + 1, task_id = excluded.task_id`,
  // closedAfter: the first closing event at or after a time (the end of the task's work). Params: task_id, time.
  closedAfter: `SELECT min(timestamp) AS t FROM hook_events WHERE task_id = ? AND event_name IN (${list(CLOSING_EVENTS)}) AND timestamp >= ?`,
  // agentTask: the task of a subagent's first event in its session. Params: agent_id, session_id. Returns: {task_id} or undefined.
  agentTask: 'SELECT task_id FROM hook_events WHERE agent_id = ? AND session_id IS ? ORDER BY id LIMIT 1',
  // openTasks: a session's tasks that no closing event closed after their last work (a late
  // event after a Stop reopens a task). Params: session_id. Returns: {task_id} rows.
  openTasks: `SELECT task_id FROM hook_events WHERE session_id IS ? GROUP BY task_id
    HAVING max(iif(event_name IN (${list(CLOSING_EVENTS)}), timestamp, NULL)) IS NULL
        OR max(iif(event_name IN (${list(CLOSING_EVENTS)}), timestamp, NULL))
           < max(iif(coalesce(event_name, '') NOT IN (${list([...AROUND_WORK, ...CLOSING_EVENTS])}), timestamp, NULL))`,
  // last: the newest event. Returns: {timestamp, event_name, session_id} or undefined.
  last: 'SELECT timestamp, event_name, session_id FROM hook_events ORDER BY id DESC LIMIT 1',
  // totals: one task's counts, times, session, cwd and closing. Params: task_id.
  totals: `
    SELECT count(*) AS total, min(timestamp) AS first, max(timestamp) AS last,
           max(iif(coalesce(event_name, '') NOT IN (${list([...AROUND_WORK, ...CLOSING_EVENTS])}), timestamp, NULL)) AS active,
           coalesce(sum(success = 0), 0) AS errors, coalesce(sum(event_name = 'UserPromptSubmit'), 0) AS prompts,
           max(iif(event_name IN (${list(CLOSING_EVENTS)}), timestamp, NULL)) AS closed_at,
           coalesce(sum(event_name = 'PermissionDenied'), 0) AS denials,
           max(coalesce(sum(event_name = 'PreCompact'), 0), coalesce(sum(event_name = 'PostCompact'), 0)) AS compactions,
           (SELECT session_id FROM hook_events h WHERE h.task_id = t.task_id AND session_id IS NOT NULL ORDER BY id DESC LIMIT 1) AS session,
           (SELECT cwd FROM hook_events h WHERE h.task_id = t.task_id AND cwd IS NOT NULL ORDER BY id LIMIT 1) AS cwd
    FROM hook_events t WHERE task_id = ?`,
  // tools: calls per tool: one per tool_use_id (a Pre and Post pair is one call); an event of
  // the older format, with no tool_use_id, is a call of its own; and how many of them failed. Params: task_id.
  tools: `
    SELECT tool_name, count(DISTINCT coalesce(tool_use_id, 'event:' || event_id)) AS n,
           count(DISTINCT iif(event_name = 'PostToolUseFailure', coalesce(tool_use_id, 'event:' || event_id), NULL)) AS failed FROM hook_events
    WHERE task_id = ? AND tool_name IS NOT NULL AND (tool_use_id IS NOT NULL OR coalesce(event_name, '') NOT LIKE 'Permission%')
    GROUP BY tool_name ORDER BY tool_name`,
  // files: files written by editing tools, relative to the session's cwd when inside it. Params: task_id, limit.
  files: `
    SELECT DISTINCT ${relative(`coalesce(${input('file_path')}, ${input('notebook_path')})`)} AS f FROM hook_events
    WHERE task_id = ? AND tool_name IN (${list(FILE_TOOLS)}) AND json_valid(payload) AND f IS NOT NULL
    ORDER BY f LIMIT ?`,
  // commands: distinct shell commands (cut to MAX_TEXT), first seen first. Params: task_id, limit.
  commands: `
    SELECT substr(${input('command')}, 1, ${MAX_TEXT}) AS c, min(id) AS first FROM hook_events
    WHERE task_id = ? AND tool_name = 'Bash' AND json_valid(payload) AND c IS NOT NULL GROUP BY c ORDER BY first LIMIT ?`,
  // errors: the most recent failed calls, oldest of them first: the tool, the first line of the
  // error, and the command or path it was about. Params: task_id, limit.
  errors: `
    SELECT * FROM (
      SELECT tool_name, event_name, timestamp, id,
             substr(rtrim(CASE WHEN instr(m, char(10)) > 0 THEN substr(m, 1, instr(m, char(10)) - 1) ELSE m END), 1, ${MAX_TEXT}) AS message,
             substr(coalesce(${input('command')}, ${relative(`coalesce(${input('file_path')}, ${input('notebook_path')})`)}), 1, ${MAX_TEXT}) AS target
      FROM (SELECT *, coalesce(json_extract(payload, '$.error'),
                               iif(json_type(payload, '$.tool_response') = 'text', json_extract(payload, '$.tool_response'), json_extract(payload, '$.tool_response.stderr'))) AS m
            FROM hook_events WHERE task_id = ? AND success = 0 AND json_valid(payload))
      ORDER BY timestamp DESC, id DESC LIMIT ?)
    ORDER BY timestamp, id`,
  // howItWent: the closing event that ended the task (the last one), its error kind, and the
  // permission prompts and their waits (to the same tool's next result or denial). Params: task_id.
  howItWent: `
    SELECT (SELECT event_name FROM hook_events WHERE task_id = @task AND event_name IN (${list(CLOSING_EVENTS)})
              AND event_name <> 'SessionEnd' ORDER BY timestamp DESC, id DESC LIMIT 1) AS stopped_by,
           (SELECT json_extract(payload, '$.error') FROM hook_events WHERE task_id = @task AND event_name = 'StopFailure' AND json_valid(payload)
              ORDER BY timestamp DESC, id DESC LIMIT 1) AS failure_kind,
           count(p.id) AS requests,
           coalesce(sum((julianday(coalesce(p.done, p.timestamp)) - julianday(p.timestamp)) * 86400), 0) AS wait
    FROM (SELECT q.id, q.timestamp,
                 (SELECT min(r.timestamp) FROM hook_events r WHERE r.task_id = q.task_id AND r.tool_name IS q.tool_name AND r.agent_id IS q.agent_id
                    AND r.event_name IN ('PostToolUse', 'PostToolUseFailure', 'PermissionDenied') AND r.timestamp >= q.timestamp) AS done
          FROM hook_events q WHERE q.task_id = @task AND q.event_name = 'PermissionRequest') p`,
  // prompts: the task's prompt texts, in order (cut to MAX_PROMPT). Params: task_id, limit.
  prompts: `
    SELECT substr(json_extract(payload, '$.prompt'), 1, ${MAX_PROMPT}) AS p FROM hook_events
    WHERE task_id = ? AND event_name = 'UserPromptSubmit' AND json_valid(payload) AND p IS NOT NULL ORDER BY timestamp, id LIMIT ?`,
  // idleTasks: tasks among the oldest events after a cursor, whose last event is older than a
  // time and which have no pending upload. Params: cursor id, before iso, limit.
  idleTasks: `
    WITH batch AS (SELECT id, task_id FROM hook_events WHERE id > ? ORDER BY id LIMIT ?)
    SELECT b.task_id, max(b.id) AS upto,
           (SELECT max(timestamp) FROM hook_events h WHERE h.task_id = b.task_id) < @before
             AND NOT EXISTS (SELECT 1 FROM sync_queue AS q INDEXED BY idx_sync_queue_next
                             WHERE q.status = 'pending' AND q.table_name = 'hook_events' AND json_extract(q.record_data, '$.task_id') = b.task_id) AS idle
    FROM batch b GROUP BY b.task_id`,
  // deleteTask: every event of a task. Params: task_id.
  deleteTask: 'DELETE FROM hook_events WHERE task_id = ?',
  // spoolDone: whether a spool file's event is recorded (src/hooks/spool-drain.ts). Params: name. Returns: 1 or undefined.
  spoolDone: 'SELECT 1 FROM hook_spool_done WHERE name = ?',
  // spoolReceipt: a spool file's event is recorded, in the same transaction. Params: name, done_at.
  spoolReceipt: 'INSERT OR IGNORE INTO hook_spool_done (name, done_at) VALUES (?, ?)',
  // spoolForget: the receipt of a spool file that is gone. Params: name.
  spoolForget: 'DELETE FROM hook_spool_done WHERE name = ?',
};

export class HookEvents {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = statements(db, HOOK_EVENTS_SQL);
  }

  /** Whether the event of this spool file is recorded already (a drain died before removing it). */
  spoolRecorded(name: string): boolean {
    return this.stmts.spoolDone.get(name) !== undefined;
  }

  spoolReceipt(name: string, atIso: string): void {
    this.stmts.spoolReceipt.run(name, atIso);
  }

  /** Drops the receipts of spool files that are gone. */
  spoolForget(names: readonly string[]): void {
    for (const n of names) this.stmts.spoolForget.run(n);
  }

  insert(row: HookEventRow): void {
    this.stmts.insert.run(row);
  }

  /** The session's prompt count and current task, if it has had a prompt. */
  session(sessionId: string): { prompts: number; task_id: string } | undefined {
    return this.stmts.session.get(sessionId) as { prompts: number; task_id: string } | undefined;
  }

  /** A new prompt in a session: its task becomes the session's current one. */
  startPrompt(sessionId: string, taskId: string): void {
    this.stmts.prompt.run(sessionId, taskId);
  }

  /** The task a subagent's first event went to, if it has had one. */
  agentTask(agentId: string, sessionId: string | null): string | undefined {
    return (this.stmts.agentTask.get(agentId, sessionId) as { task_id: string } | undefined)?.task_id;
  }

  /** The tasks of a session still open: none closed, or reopened by events after their close. */
  openTasks(sessionId: string | null): string[] {
    return (this.stmts.openTasks.all(sessionId) as { task_id: string }[]).map((r) => r.task_id);
  }

  last(): { timestamp: string; event_name: string | null; session_id: string | null } | undefined {
    return this.stmts.last.get() as { timestamp: string; event_name: string | null; session_id: string | null } | undefined;
  }

  summary(taskId: string, opts: { prompts?: boolean } = {}): TaskSummary {
    const t = this.stmts.totals.get(taskId) as { total: number; first: string | null; last: string | null; active: string | null; errors: number; prompts: number; closed_at: string | null; session: string | null; cwd: string | null; denials: number; compactions: number };
    const tools: Record<string, number> = {};
    const failures: Record<string, number> = {};
    for (const r of this.stmts.tools.all(taskId) as { tool_name: string; n: number; failed: number }[]) {
      tools[r.tool_name] = r.n;
      if (r.failed) failures[r.tool_name] = r.failed;
    }
    // Closed when a closing event (Stop, StopFailure, SessionEnd) came after the last work; the
    // duration runs from the first event to the end of the work: notifications, compaction and a
    // SessionEnd minutes after a Stop do not lengthen it (AROUND_WORK).
    const closed = t.closed_at !== null && (t.active === null || t.closed_at >= t.active);
    const end = closed ? ((this.stmts.closedAfter.get(taskId, t.active ?? '') as { t: string | null }).t ?? t.closed_at) : (t.active ?? t.last);
    const duration = t.first && end ? Math.max(0, (Date.parse(end) - Date.parse(t.first)) / 1000) : 0;
    const how = this.stmts.howItWent.get({ task: taskId }) as { stopped_by: string | null; failure_kind: string | null; requests: number; wait: number };
    const outcome = !closed ? null : how.stopped_by === 'StopFailure' ? 'failed' : how.stopped_by === 'Stop' ? 'completed' : 'interrupted';
    return {
      task_id: taskId,
      session_id: t.session,
      cwd: t.cwd,
      status: closed ? 'closed' : 'open',
      total_events: t.total,
      prompt_count: t.prompts,
      tools_used: tools,
      files_modified: (this.stmts.files.all(taskId, MAX_FILES) as { f: string }[]).map((r) => String(r.f)),
      commands_run: (this.stmts.commands.all(taskId, MAX_COMMANDS) as { c: string }[]).map((r) => String(r.c)),
      errors: (this.stmts.errors.all(taskId, MAX_ERRORS) as (TaskSummary['errors'][number] & { id?: number })[]).map(({ id: _id, ...e }) => e),
      error_count: t.errors,
      duration_seconds: duration,
      first_event_at: t.first,
      last_event_at: t.last,
      closed_at: t.closed_at,
      outcome,
      failure_kind: outcome === 'failed' ? how.failure_kind : null,
      permission_requests: how.requests,
      permission_wait_seconds: Math.round(how.wait * 1000) / 1000,
      permission_denials: t.denials,
      compactions: t.compactions,
      tool_failures: failures,
      ...(opts.prompts ? { prompts: (this.stmts.prompts.all(taskId, MAX_PROMPTS) as { p: string }[]).map((r) => String(r.p)) } : {}),
    };
  }

  /**
   * Deletes the events of tasks idle since `beforeIso` whose summary is synced, scanning the oldest
   * events `chunk` at a time from a cursor. Returns how many events went.
   */
  async pruneIdleTasks(beforeIso: string, chunk: number, breathe: () => Promise<unknown>, signal?: AbortSignal): Promise<number> {
    let cursor = 0;
    let removed = 0;
    for (;;) {
      signal?.throwIfAborted();
      const tasks = this.stmts.idleTasks.all(cursor, chunk, { before: beforeIso }) as { task_id: string; upto: number; idle: number }[];
      if (tasks.length === 0) return removed;
      for (const t of tasks) if (t.idle) removed += this.stmts.deleteTask.run(t.task_id).changes;
      cursor = Math.max(...tasks.map((t) => t.upto));
      await breathe();
    }
  }
}
