/**
 * Where a coding-agent task ran: the git repository of its working directory, found by the daemon
 * running `git` (never the hook process, which only spools). The remote's URL is kept as host and
 * path only: a user name, a password or a token in it never leaves the machine.
 */
import path from 'node:path';

export interface RepoFacts {
  /** The repository's top folder. */
  root: string;
  /** origin's host and path ("github.com/bobco/api-server"), or null with no origin. */
  remote: string | null;
  /** The linked worktree's folder when the cwd is in one (`git worktree add`), else null. */
  worktree: string | null;
  /** The branch checked out now (null when detached). */
  branch: string | null;
}

/** A remote URL as host/path, without credentials, port, query or ".git". */
export function cleanRemote(url: string): string | null {
  const u = url.trim();
  if (u === '') return null;
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/)(.+)$/.exec(u); // git@github.com:org/repo.git
  let hostPath: string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) {
    try {
      const parsed = new URL(u);
      hostPath = parsed.protocol === 'file:' ? parsed.pathname : `${parsed.hostname}${parsed.pathname}`;
    } catch {
      return null;
    }
  } else if (scp && !u.startsWith('/')) {
    hostPath = `${scp[1]}/${scp[2]}`;
  } else {
    hostPath = u; // a local path
  }
  return hostPath.replace(/[?#].*$/, '').replace(/\/+$/, '').replace(/\.git$/, '') || null;
}

function git(cwd: string, args: string[]): string | undefined {
  try {
    // Loaded here, not imported: this module is on the enqueue path (store/repos.ts), which never runs git.
    return process.getBuiltinModule('node:child_process').execFileSync('git', ['-C', cwd, ...args], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0' } });
  } catch {
    return undefined;
  }
}

/** The repository of a folder, or undefined when it is not in one (or git is missing). */
export function probeRepo(cwd: string): RepoFacts | undefined {
  const out = git(cwd, ['rev-parse', '--show-toplevel', '--absolute-git-dir', '--git-common-dir', '--abbrev-ref', 'HEAD']);
  if (!out) return undefined;
  const [root, gitDir, commonDir, head] = out.split('\n');
  if (!root || !gitDir) return undefined;
  const common = commonDir ? path.resolve(cwd, commonDir) : gitDir;
  const remote = git(cwd, ['config', '--get', 'remote.origin.url']);
  return {
    root,
    remote: remote ? cleanRemote(remote) : null,
    worktree: path.resolve(gitDir) !== path.resolve(common) ? root : null,
    branch: head && head !== 'HEAD' ? head : null,
  };
}
