/**
 * Aggregates hook events into task summaries: "Supabase gets summaries, not full details".
 *
 * Pending `hook_events` operations are grouped by task, and each task becomes one `task_summaries`
 * upsert computed from every event of that task in the local `hook_events` table, not just the
 * pending ones. A later batch therefore updates the summary correctly, and re-uploading it after a
 * crash is harmless: the values are absolute, never increments.
 *
 * The summary also carries what the task's API responses used (store/usage.ts, read from the
 * session's transcripts): tokens by kind, requests, models, the estimated cost and the git branch.
 */
import { TABLES } from '../catalog.ts';
import { HookEvents, type TaskSummary } from '../store/hook-events.ts';
import { TranscriptUsage, type TaskUsage } from '../store/usage.ts';
import { Repos } from '../store/repos.ts';
import { hidePaths } from './hide-paths.ts';
import type { Db } from '../store/db.ts';
import type { PendingRow } from '../store/outbox.ts';
import type { Packaged, Packager } from './types.ts';

export type TaskSummaryWithUsage = TaskSummary & Omit<TaskUsage, 'git_branches'> & {
  git_branch: string | null;
  git_branches: string[];
  /** The repository: origin's host and path, its top folder, and the linked worktree it ran in. */
  repo: string | null;
  repo_root: string | null;
  worktree: string | null;
};

export function summariseTask(db: Db, taskId: string, opts: { prompts?: boolean } = {}): TaskSummaryWithUsage {
  let q = queriesByDb.get(db);
  if (!q) {
    q = { events: new HookEvents(db), usage: new TranscriptUsage(db, () => new Map()), repos: new Repos(db) };
    queriesByDb.set(db, q);
  }
  const usage = q.usage.forTask(taskId) ?? NO_USAGE;
  const { git_branches, ...rest } = usage;
  const repo = q.repos.ofTask(taskId);
  // The branch of its responses; with none read, the branch checked out when its folder was probed.
  const branches = git_branches.length ? git_branches : repo?.branch ? [repo.branch] : [];
  return {
    ...q.events.summary(taskId, opts), ...rest, git_branch: branches.at(-1) ?? null, git_branches: branches,
    repo: repo?.remote ?? null, repo_root: repo?.root ?? null, worktree: repo?.worktree ?? null,
  };
}

/** A task with no API response known: nothing used, nothing spent. */
const NO_USAGE: TaskUsage = { input_tokens: 0, output_tokens: 0, cache_creation_tokens: 0, cache_read_tokens: 0, api_requests: 0, cost_usd: 0, models: {}, unpriced_models: [], git_branches: [], model_switches: 0 };

const queriesByDb = new WeakMap<Db, { events: HookEvents; usage: TranscriptUsage; repos: Repos }>();

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
      const summary = summariseTask(ctx.db, task, { prompts: ctx.hookUploads?.has('prompts') });
      const { task_id: _omit, ...data } = ctx.pathSalt ? hidePaths(summary, ctx.pathSalt) : summary;
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
