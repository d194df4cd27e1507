/**
 * Aggregates hook events into task summaries: "Supabase gets summaries, not full details".
 *
 * Pending `hook_events` operations are grouped by task, and each task becomes one `task_summaries`
 * upsert computed from every event of that task in the local `hook_events` table, not just the
 * pending ones. A later batch therefore updates the summary correctly, and re-uploading it after a
 * crash is harmless: the values are absolute, never increments.
 */
import { TABLES } from '../catalog.ts';
import type { Db } from '../store/db.ts';
import type { PendingRow } from '../store/outbox.ts';
import type { Packaged, Packager } from './types.ts';

const FILE_TOOLS = ['Edit', 'Write', 'MultiEdit', 'NotebookEdit'];
/** A summary stays small whatever the task did: lists are capped, long texts cut. */
const MAX_FILES = 50;
const MAX_COMMANDS = 25;
const MAX_COMMAND_CHARS = 160;
const MAX_ERRORS = 10;
const MAX_ERROR_CHARS = 160;

export interface TaskSummary {
  task_id: string;
  total_events: number;
  tools_used: Record<string, number>;
  files_modified: string[];
  commands_run: string[];
  errors: { event_name: string | null; tool_name: string | null; message: string | null; timestamp: string }[];
  error_count: number;
  duration_seconds: number;
  first_event_at: string | null;
  last_event_at: string | null;
}

/** Statements that read one task's events. */
class SummaryQueries {
  private readonly stmts;
  constructor(db: Db) {
    const input = (field: string) => `CASE WHEN json_valid(tool_input) THEN json_extract(tool_input, '$.${field}') END`;
    this.stmts = {
      // totals: count, first/last time, failures. Params: task_id.
      totals: db.prepare(`
        SELECT count(*) AS total, min(timestamp) AS first, max(timestamp) AS last, coalesce(sum(success = 0), 0) AS errors
        FROM hook_events WHERE task_id = ?`),
      // tools: events per tool. Params: task_id.
      tools: db.prepare(`
        SELECT tool_name, count(*) AS n FROM hook_events WHERE task_id = ? AND tool_name IS NOT NULL
        GROUP BY tool_name ORDER BY tool_name`),
      // files: distinct files touched by editing tools. Params: task_id, limit.
      files: db.prepare(`
        SELECT DISTINCT ${input('file_path')} AS f FROM hook_events
        WHERE task_id = ? AND tool_name IN (${FILE_TOOLS.map((t) => `'${t}'`).join(', ')}) AND f IS NOT NULL
        ORDER BY f LIMIT ?`),
      // commands: distinct shell commands (cut to MAX_COMMAND_CHARS), first seen first. Params: task_id, limit.
      commands: db.prepare(`
        SELECT substr(${input('command')}, 1, ${MAX_COMMAND_CHARS}) AS c, min(id) AS first FROM hook_events
        WHERE task_id = ? AND tool_name = 'Bash' AND c IS NOT NULL GROUP BY c ORDER BY first LIMIT ?`),
      // errors: the most recent failed events, oldest of them first. Params: task_id, limit.
      errors: db.prepare(`
        SELECT * FROM (
          SELECT event_name, tool_name, substr(tool_response, 1, ${MAX_ERROR_CHARS}) AS message, timestamp, id FROM hook_events
          WHERE task_id = ? AND success = 0 ORDER BY timestamp DESC, id DESC LIMIT ?)
        ORDER BY timestamp, id`),
    };
  }

  summary(taskId: string): TaskSummary {
    const t = this.stmts.totals.get(taskId) as { total: number; first: string | null; last: string | null; errors: number };
    const tools: Record<string, number> = {};
    for (const r of this.stmts.tools.all(taskId) as { tool_name: string; n: number }[]) tools[r.tool_name] = r.n;
    const duration = t.first && t.last ? Math.max(0, (Date.parse(t.last) - Date.parse(t.first)) / 1000) : 0;
    return {
      task_id: taskId,
      total_events: t.total,
      tools_used: tools,
      files_modified: (this.stmts.files.all(taskId, MAX_FILES) as { f: string }[]).map((r) => String(r.f)),
      commands_run: (this.stmts.commands.all(taskId, MAX_COMMANDS) as { c: string }[]).map((r) => String(r.c)),
      errors: (this.stmts.errors.all(taskId, MAX_ERRORS) as (TaskSummary['errors'][number] & { id?: number })[]).map(({ id: _id, ...e }) => e),
      error_count: t.errors,
      duration_seconds: duration,
      first_event_at: t.first,
      last_event_at: t.last,
    };
  }
}

const queriesByDb = new WeakMap<Db, SummaryQueries>();

export function summariseTask(db: Db, taskId: string): TaskSummary {
  let q = queriesByDb.get(db);
  if (!q) {
    q = new SummaryQueries(db);
    queriesByDb.set(db, q);
  }
  return q.summary(taskId);
}

export const hookSummaryPackager: Packager = {
  name: 'hook-summary',
  tables: TABLES.filter((t) => t.summarisedInto === 'task_summaries').map((t) => t.name),
  package(rows, ctx) {
    const byTask = new Map<string, PendingRow[]>();
    for (const row of rows) {
      // The page carries the task id (read by SQLite), not the event: its payload may be large.
      const task = String(row.task_id ?? '');
      const g = byTask.get(task);
      if (g) g.push(row);
      else byTask.set(task, [row]);
    }
    const packaged: Packaged[] = [];
    for (const [task, sources] of byTask) {
      const newest = sources.reduce((a, b) => (b.id > a.id ? b : a));
      const { task_id: _omit, ...data } = summariseTask(ctx.db, task);
      packaged.push({
        op: {
          op_id: newest.op_id,
          operation: 'UPDATE',
          table: 'task_summaries',
          record_id: task,
          data: { task_id: task, ...data },
          // A summary describes the whole task as of now; its own change time is the packaging time.
          changed_at: ctx.nowIso,
          seq: newest.id,
          ledger_seq: newest.id,
        },
        sources,
        aggregated: true,
      });
    }
    return { packaged, settled: [] };
  },
};
