/**
 * Where ccm-sync keeps a machine's state: its home, found the way git finds a repository.
 *
 *   1. --config FILE                the home is FILE's directory
 *   2. CCM_SYNC_CONFIG=FILE          the same
 *      CCM_SYNC_HOME=DIR             DIR, with DIR/config.yaml when it exists
 *   3. the nearest .ccm-global/      walking up from the working directory (one of this user's,
 *                                   in a folder only they can write: see untrustedHome)
 *   4. the per-user default          ~/.ccm-global
 *
 * So hooks, cron jobs and people calling ccm-sync from any directory of a project share one outbox.
 * Finding a home creates nothing. Commands that record (enqueue, start, sync) create a missing home
 * with ensureHome(), which says so on stderr; read-only commands never create one.
 */
import path from 'node:path';
import { fs, os } from '../builtins.ts';

export const HOME_DIR_NAME = '.ccm-global';
export const CONFIG_NAME = 'config.yaml';

export type HomeSource = '--config' | 'CCM_SYNC_CONFIG' | 'CCM_SYNC_HOME' | 'nearest .ccm-global' | 'per-user default';

export interface Home {
  /** The home directory: relative paths in the config resolve against it. */
  dir: string;
  /** The config file (it may not exist: then every key has its default). */
  configFile: string;
  source: HomeSource;
}

export interface FindHomeOptions {
  configPath?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The per-user default home: ~/.ccm-global ($HOME first, so a test or a service can move it). */
export function userHome(env: NodeJS.ProcessEnv): string {
  return path.join(env.HOME || os.homedir(), HOME_DIR_NAME);
}

/**
 * Why a .ccm-global found on the way up is not used, or undefined when it may be: it must belong
 * to this user and sit in a folder other users cannot write. Otherwise anyone could plant one in
 * /tmp (or a shared folder) and receive the work of every command run below it, hooks included;
 * git refuses such repositories for the same reason (safe.directory).
 */
export function untrustedHome(candidate: string): string | undefined {
  try {
    const uid = process.getuid?.();
    const own = fs.statSync(candidate);
    if (uid !== undefined && own.uid !== uid) return `${candidate} belongs to another user (uid ${own.uid})`;
    const parent = path.dirname(candidate);
    if (fs.statSync(parent).mode & 0o002) return `${candidate} is in ${parent}, which every user can write`;
  } catch {
    return undefined;
  }
  return undefined;
}

/** The nearest usable .ccm-global directory at or above `cwd`, if any; `skipped` gets those passed over. */
export function nearestHome(cwd: string, skipped: string[] = []): string | undefined {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, HOME_DIR_NAME);
    if (isDir(candidate)) {
      const why = untrustedHome(candidate);
      if (!why) return candidate;
      skipped.push(why);
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

export function findHome(o: FindHomeOptions): Home {
  const fromFile = (file: string, source: HomeSource): Home => {
    const configFile = path.resolve(o.cwd, file);
    return { dir: path.dirname(configFile), configFile, source };
  };
  const inDir = (dir: string, source: HomeSource): Home => ({ dir, configFile: path.join(dir, CONFIG_NAME), source });
  if (o.configPath !== undefined) return fromFile(o.configPath, '--config');
  if (o.env.CCM_SYNC_CONFIG) return fromFile(o.env.CCM_SYNC_CONFIG, 'CCM_SYNC_CONFIG');
  if (o.env.CCM_SYNC_HOME) return inDir(path.resolve(o.cwd, o.env.CCM_SYNC_HOME), 'CCM_SYNC_HOME');
  const near = nearestHome(o.cwd);
  if (near) return inDir(near, 'nearest .ccm-global');
  return inDir(userHome(o.env), 'per-user default');
}

/**
 * Resolves a path from the config. Relative paths are relative to the home directory; a path that
 * starts with `.ccm-global/` in a home named .ccm-global is the older layout (relative to the
 * project directory) and means the same file.
 */
export function resolveInHome(home: string, p: string): string {
  if (path.isAbsolute(p)) return p;
  const parts = p.split(/[\\/]/);
  if (parts[0] === HOME_DIR_NAME && path.basename(home) === HOME_DIR_NAME) return path.resolve(path.dirname(home), p);
  return path.resolve(home, p);
}

/** mkdir -p, with the last folder private (0700) when this call creates it. Returns whether it did. */
export function makePrivateDir(dir: string): boolean {
  if (fs.existsSync(dir)) return false;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700); // the umask may have narrowed it further, never widened; make it exact
  return true;
}

/**
 * Creates the home when it does not exist yet, saying so on stderr (never stdout: scripts parse
 * it). Called by the commands that record; `say` is a parameter so the daemon can log instead.
 */
export function ensureHome(home: Pick<Home, 'dir' | 'source'>, say: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  if (!makePrivateDir(home.dir)) return;
  const why = home.source === 'per-user default' ? 'no .ccm-global directory here or above; using the per-user home' : `home from ${home.source}`;
  say(`ccm-sync: created ${home.dir} (${why}); \`ccm-sync where\` shows what is in use`);
}
