/** Runs the built CLI (dist/, which `npm test` builds first) as a separate process. */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scaled } from './wait.ts';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

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

/** Whether every folder from / down to `dir` lets other users through (o+x). */
function traversable(dir: string): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

/**
 * A fresh folder another user can reach: in the temp dir when every folder above it lets them
 * through, else in /tmp (a contributor's TMPDIR, or a checkout in a `mktemp -d` folder, is often
 * 0700). Tests that run a command as another user keep that user's files in here.
 */
export function traversableDir(): string {
  const base = [tmpdir(), '/tmp', '/dev/shm'].find((d) => existsSync(d) && traversable(d));
  if (!base) throw new Error('no temp folder lets other users through: a test that runs as another user cannot run here');
  const dir = mkdtempSync(path.join(base, 'ccm-shared-'));
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * Runs `run` with this checkout (dist, node_modules and the pinned Node in it) reachable by another
 * user: bind-mounted into a traversable folder, since the checkout's own parents may be private.
 * `map` turns a path in the checkout into its path under the mount. Root only (as runCli's `as`).
 */
async function withCheckoutShared<T>(run: (map: (p: string) => string) => Promise<T>): Promise<T> {
  const dir = traversableDir();
  const mnt = path.join(dir, 'checkout');
  mkdirSync(mnt);
  execFileSync('mount', ['--bind', CHECKOUT, mnt]);
  try {
    return await run((p) => (p.startsWith(`${CHECKOUT}/`) ? path.join(mnt, path.relative(CHECKOUT, p)) : p));
  } finally {
    execFileSync('umount', [mnt]);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  if (!existsSync(CLI)) throw new Error('dist/ is missing: run `npm run build` first (npm test does it)');
  if (opts.as && process.getuid?.() === 0 && !traversable(CHECKOUT)) {
    const { as, ...rest } = opts;
    return withCheckoutShared((map) => spawnCli(map(process.execPath), map(CLI), args, rest, as));
  }
  return spawnCli(process.execPath, CLI, args, opts, opts.as && process.getuid?.() === 0 ? opts.as : undefined);
}

function spawnCli(node: string, cli: string, args: string[], opts: CliOptions, as: CliOptions['as']): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [cli, ...args], {
      cwd: opts.cwd,
      env: childEnv(opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(as ?? {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? scaled(20_000));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
