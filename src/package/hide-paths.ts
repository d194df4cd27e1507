/**
 * `hooks.paths: hashed`: a task summary's file paths and repository names leave the machine as
 * salted hashes, for fleets that may not share them. The salt (CCM_SYNC_PATH_SALT) is the same on
 * every machine of the fleet, so one repository or file hashes alike everywhere and reports still
 * group by it; without the salt nobody can test a guess. Commands and error messages are kept as
 * they are: hooks.upload and the README say what a summary holds.
 */
import { createHash } from 'node:crypto';

const FILE_TOOLS = new Set(['Edit', 'Write', 'MultiEdit', 'NotebookEdit', 'Read']);

/** `h:` and 22 characters of the salted SHA-256 of a value. */
export function hashed(salt: string, value: string): string {
  return `h:${createHash('sha256').update(salt).update('\0').update(value).digest('base64url').slice(0, 22)}`;
}

type Summary = { errors?: { tool_name: string | null; target: string | null }[] };

/** The summary with its paths and repository names hashed. */
export function hidePaths<T extends Summary>(summary: T, salt: string): T {
  const h = (v: unknown) => (typeof v === 'string' && v !== '' ? hashed(salt, v) : v);
  const out: Record<string, unknown> = { ...(summary as Record<string, unknown>) };
  for (const key of ['cwd', 'repo', 'repo_root', 'worktree']) if (key in out) out[key] = h(out[key]);
  if (Array.isArray(out.files_modified)) out.files_modified = (out.files_modified as unknown[]).map(h);
  if (Array.isArray(summary.errors)) out.errors = summary.errors.map((e) => (e.tool_name && FILE_TOOLS.has(e.tool_name) ? { ...e, target: h(e.target) } : e));
  return out as T;
}
