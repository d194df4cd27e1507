/**
 * `ccm-sync service install|uninstall|status`: where the service files go, writing and removing
 * them, and asking systemd or launchd to run them. When systemctl or launchctl cannot be asked
 * (a container, no user session, no lingering), the commands to run are returned instead.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, messageOf } from '../errors.ts';
import { makePrivateDir } from '../config/home.ts';
import { writeFileDurably } from '../store/durable-file.ts';
import { VERSION } from '../version.ts';
import { envFileText, launchdPlist, MARKER, SERVICE_ENV, systemdUnit, type ServicePlan } from './unit.ts';
import type { Settings } from '../config/load.ts';

export type Scope = 'user' | 'system';

export interface ServiceFiles {
  platform: 'systemd' | 'launchd';
  scope: Scope;
  /** The unit or plist, and the env file beside the home. */
  unit: { path: string; text: string };
  env: { path: string; text: string; keys: string[] };
  /** What to run to start it, and to stop and remove it. */
  start: string[][];
  stop: string[][];
}

/** Where the user's or the system's units live. */
function unitDir(scope: Scope, env: NodeJS.ProcessEnv): string {
  if (process.platform === 'darwin') return scope === 'system' ? '/Library/LaunchDaemons' : path.join(env.HOME || os.homedir(), 'Library', 'LaunchAgents');
  if (scope === 'system') return '/etc/systemd/system';
  return path.join(env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config'), 'systemd', 'user');
}

/** The files a service of this home is made of, and the commands that start and stop it. */
export function serviceFiles(settings: Settings, opts: { scope: Scope; name?: string; env?: NodeJS.ProcessEnv }): ServiceFiles {
  const env = opts.env ?? process.env;
  const name = opts.name ?? 'ccm-sync';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) throw new InputError(`--name ${JSON.stringify(name)}: letters, digits, _ . - only`);
  const home = settings.paths.home;
  const owner = existsSync(home) ? statSync(home) : undefined;
  const plan: ServicePlan = {
    name, node: process.execPath, cli: fileURLToPath(new URL('../cli/main.js', import.meta.url)), home,
    ...(settings.paths.homeSource === '--config' || settings.paths.homeSource === 'CCM_SYNC_CONFIG' ? { config: settings.paths.configFile } : {}),
    envFile: path.join(home, 'service.env'), version: VERSION,
    ...(opts.scope === 'system' ? { system: ownerOf(owner?.uid ?? process.getuid?.() ?? 0, owner?.gid ?? 0) } : {}),
  };
  const keys = SERVICE_ENV.filter((k) => env[k]);
  const envText = envFileText(Object.fromEntries(keys.map((k) => [k, env[k]!])));
  const dir = unitDir(opts.scope, env);
  if (process.platform === 'darwin') {
    const label = `dev.ccm-sync.${name}`;
    const file = path.join(dir, `${label}.plist`);
    const domain = opts.scope === 'system' ? 'system' : `gui/${process.getuid?.() ?? 501}`;
    return {
      platform: 'launchd', scope: opts.scope, unit: { path: file, text: launchdPlist(plan, label, path.join(home, 'logs')) }, env: { path: plan.envFile, text: envText, keys },
      start: [['launchctl', 'bootstrap', domain, file]], stop: [['launchctl', 'bootout', `${domain}/${label}`]],
    };
  }
  const ctl = opts.scope === 'user' ? ['systemctl', '--user'] : ['systemctl'];
  return {
    platform: 'systemd', scope: opts.scope, unit: { path: path.join(dir, `${name}.service`), text: systemdUnit(plan) }, env: { path: plan.envFile, text: envText, keys },
    start: [[...ctl, 'daemon-reload'], [...ctl, 'enable', '--now', `${name}.service`]],
    stop: [[...ctl, 'disable', '--now', `${name}.service`], [...ctl, 'daemon-reload']],
  };
}

function ownerOf(uid: number, gid: number): { user: string; group: string } {
  const line = (file: string, id: number) => readFileSync(file, 'utf8').split('\n').map((l) => l.split(':')).find((f) => Number(f[2]) === id)?.[0];
  try {
    return { user: line('/etc/passwd', uid) ?? String(uid), group: line('/etc/group', gid) ?? String(gid) };
  } catch {
    return { user: String(uid), group: String(gid) };
  }
}

/** Whether a file is one `install` wrote (its marker line), so uninstall may remove it. */
export function ours(file: string): boolean {
  try {
    return readFileSync(file, 'utf8').split('\n', 3).some((l) => l.includes(MARKER));
  } catch {
    return false;
  }
}

/** Runs each command; stops at the first that fails. Returns what failed, or undefined. */
export function runAll(commands: string[][]): string | undefined {
  for (const [cmd, ...args] of commands) {
    try {
      execFileSync(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    } catch (err) {
      const e = err as { stderr?: Buffer; code?: string };
      return `\`${[cmd, ...args].join(' ')}\` failed: ${e.code === 'ENOENT' ? `${cmd} is not installed` : (e.stderr?.toString().trim().split('\n')[0] || messageOf(err))}`;
    }
  }
  return undefined;
}

/** Writes the unit (or plist) and the env file; keeps an existing env file when no secret is set now. */
export function writeService(f: ServiceFiles): void {
  if (existsSync(f.unit.path) && !ours(f.unit.path)) throw new InputError(`${f.unit.path} exists and was not written by ccm-sync; remove it yourself or choose another --name`);
  makePrivateDir(path.dirname(f.env.path));
  if (f.env.keys.length > 0 || !existsSync(f.env.path)) writeFileDurably(f.env.path, f.env.text, { mode: 0o600 });
  writeFileDurably(f.unit.path, f.unit.text, { mode: 0o644, mkdir: true });
}

/** Removes what install wrote, and only that. Returns the files removed. */
export function removeService(f: ServiceFiles): string[] {
  const gone: string[] = [];
  for (const file of [f.unit.path, f.env.path]) {
    if (existsSync(file) && ours(file)) {
      rmSync(file);
      gone.push(file);
    }
  }
  return gone;
}

/** What systemd says of the unit: ActiveState, UnitFileState, the last exit, or why it cannot say. */
export function unitState(f: ServiceFiles): Record<string, string> | { unknown: string } {
  if (f.platform !== 'systemd') return { unknown: 'launchctl print shows a launchd agent\'s state' };
  const ctl = f.scope === 'user' ? ['--user'] : [];
  try {
    const out = execFileSync('systemctl', [...ctl, 'show', path.basename(f.unit.path), '--property=ActiveState,SubState,UnitFileState,ExecMainStatus,NRestarts'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    return Object.fromEntries(out.trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
  } catch (err) {
    const e = err as { stderr?: Buffer; code?: string };
    return { unknown: e.code === 'ENOENT' ? 'systemctl is not installed' : (e.stderr?.toString().trim().split('\n')[0] ?? messageOf(err)) };
  }
}
