/** Runs the built CLI (dist/, which `npm test` builds first) as a separate process. */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/**
 * HOME for the processes a test starts: a fresh folder, so a command that falls back to the
 * per-user home (~/.ccm-global) never touches the real one of whoever runs the suite.
 */
export const TEST_HOME = mkdtempSync(path.join(tmpdir(), 'ccm-home-'));
/** TMPDIR too: the hook's fallback log (per user, in TMPDIR) of one run must not leak into another. */
export const TEST_TMP = mkdtempSync(path.join(tmpdir(), 'ccm-tmp-'));

export function childEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: TEST_HOME, TMPDIR: TEST_TMP, ...env };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A user that is not root, for tests of file permissions (root ignores them). */
export const NOBODY = { uid: 65534, gid: 65534 };

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  cwd?: string;
  timeoutMs?: number;
  /** Run as another user (the suite runs as root in CI): e.g. NOBODY. */
  as?: { uid: number; gid: number };
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  if (!existsSync(CLI)) throw new Error('dist/ is missing: run `npm run build` first (npm test does it)');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd,
      env: childEnv(opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.as && process.getuid?.() === 0 ? opts.as : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
