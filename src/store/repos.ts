/**
 * `hook_repos`: the git repository of each working directory coding-agent events came from
 * (hooks/repo.ts), probed where the spool is drained and again once an hour, so a task summary
 * can say which repository, remote and worktree it ran in without running git while packaging.
 */
import { statements, type Db } from './db.ts';
import { probeRepo, type RepoFacts } from '../hooks/repo.ts';

const RECHECK_MS = 3_600_000;

const REPOS_SQL = {
  // checked: when a folder was last probed. Params: cwd. Returns: {checked_at} or undefined.
  checked: 'SELECT checked_at FROM hook_repos WHERE cwd = ?',
  // save: a folder's repository (root null: not in one). Params: cwd, root, remote, worktree, branch, checked_at.
  save: `INSERT INTO hook_repos (cwd, root, remote, worktree, branch, checked_at) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (cwd) DO UPDATE SET root = excluded.root, remote = excluded.remote, worktree = excluded.worktree,
      branch = excluded.branch, checked_at = excluded.checked_at`,
  // ofTask: the repository of a task's first working directory. Params: task_id.
  ofTask: `SELECT r.root, r.remote, r.worktree, r.branch FROM hook_repos r
    WHERE r.cwd = (SELECT cwd FROM hook_events WHERE task_id = ? AND cwd IS NOT NULL ORDER BY id LIMIT 1) AND r.root IS NOT NULL`,
};

export class Repos {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = statements(db, REPOS_SQL);
  }

  /** Probes a folder not seen within the hour. */
  note(cwd: unknown, nowMs: number): void {
    if (typeof cwd !== 'string' || !cwd.startsWith('/')) return;
    const seen = this.stmts.checked.get(cwd) as { checked_at: string } | undefined;
    if (seen && nowMs - Date.parse(seen.checked_at) < RECHECK_MS) return;
    const r = probeRepo(cwd);
    this.stmts.save.run(cwd, r?.root ?? null, r?.remote ?? null, r?.worktree ?? null, r?.branch ?? null, new Date(nowMs).toISOString());
  }

  ofTask(taskId: string): RepoFacts | undefined {
    return this.stmts.ofTask.get(taskId) as RepoFacts | undefined;
  }
}
