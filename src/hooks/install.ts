/**
 * `ccm-sync hook install|uninstall|status`: ccm-sync's entries in Claude Code's settings files.
 *
 * Settings: hooks → EventName → [{matcher?, hooks: [{type: "command", command, timeout, async}]}].
 * Claude Code merges the hooks of every settings file; ours are recognised by their command (a
 * `ccm-sync … hook` command line) or URL (`…/api/hooks/claude`), so installing twice, or from
 * another installation, replaces them instead of adding more, and every other key and hook is kept.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../errors.ts';
import { eventsFor } from './claude.ts';

export type Scope = 'user' | 'project' | 'local';
export const SCOPES: readonly Scope[] = ['user', 'project', 'local'];

type Json = Record<string, unknown>;
type Handler = Json & { type?: unknown; command?: unknown; url?: unknown };
type Group = Json & { matcher?: unknown; hooks?: unknown };

/** A command hook runs a process per event; an http hook posts to the running daemon. */
export type HookTarget = { kind: 'command'; command: string } | { kind: 'http'; url: string; token: string };

/** The settings file of a scope (CLAUDE_CONFIG_DIR moves the user's). */
export function settingsFile(scope: Scope, env: NodeJS.ProcessEnv, cwd: string): string {
  switch (scope) {
    case 'user':
      return path.join(env.CLAUDE_CONFIG_DIR || path.join(env.HOME || os.homedir(), '.claude'), 'settings.json');
    case 'project':
      return path.join(cwd, '.claude', 'settings.json');
    case 'local':
      return path.join(cwd, '.claude', 'settings.local.json');
  }
}

/** Whether two settings paths are one file (from $HOME, the project's .claude is the user's). */
export function sameFile(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return path.join(realpathSync(path.dirname(p)), path.basename(p));
    } catch {
      return path.resolve(p);
    }
  };
  return real(a) === real(b);
}

export function readSettings(file: string): Json {
  if (!existsSync(file)) return {};
  const text = readFileSync(file, 'utf8');
  if (text.trim() === '') return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file} is not valid JSON (${(err as Error).message}); Claude Code would not read it either. Fix it, then run this again`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new InputError(`${file} must hold a JSON object`);
  return doc as Json;
}

/**
 * Whether a handler is one of ours: a command ending in `hook claude` (what install writes) or
 * `ccm-sync hook` (what a person may have written by hand), or an http hook to our route.
 */
export function isOurs(h: unknown): boolean {
  const x = h as Handler;
  if (typeof x !== 'object' || x === null) return false;
  if (typeof x.command === 'string') return /(^|[\s'"])hook claude\s*$/.test(x.command) || /ccm-sync['"]?\s+hook\s*$/.test(x.command);
  return typeof x.url === 'string' && /\/api\/hooks\/claude$/.test(x.url);
}

function ourHandler(target: HookTarget, wait: boolean): Handler {
  if (target.kind === 'http') {
    return {
      type: 'http', url: target.url, timeout: 5,
      headers: { Authorization: `Bearer ${target.token}`, 'X-CCM-Task-Id': '$CCM_TASK_ID' }, allowedEnvVars: ['CCM_TASK_ID'],
    };
  }
  return wait ? { type: 'command', command: target.command, timeout: 10 } : { type: 'command', command: target.command, timeout: 10, async: true };
}

/** The installed Claude Code's version, as `claude --version` says it, or undefined when none answers. */
export function claudeVersion(env: NodeJS.ProcessEnv): string | undefined {
  try {
    const out = execFileSync('claude', ['--version'], { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'ignore'], env: { ...env, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' } });
    return /\b(\d+\.\d+\.\d+)\b/.exec(out)?.[1];
  } catch {
    return undefined;
  }
}

/** The settings without any of our handlers; groups and events left empty go too. */
export function withoutOurs(settings: Json): Json {
  const hooks = settings.hooks;
  if (typeof hooks !== 'object' || hooks === null || Array.isArray(hooks)) return settings;
  const kept: Json = {};
  for (const [event, groups] of Object.entries(hooks as Json)) {
    if (!Array.isArray(groups)) {
      kept[event] = groups;
      continue;
    }
    const left = (groups as Group[]).flatMap((g) => {
      if (!g || typeof g !== 'object' || !Array.isArray(g.hooks)) return [g];
      const rest = (g.hooks as unknown[]).filter((h) => !isOurs(h));
      if (rest.length === g.hooks.length) return [g];
      return rest.length ? [{ ...g, hooks: rest }] : [];
    });
    if (left.length) kept[event] = left;
  }
  const out: Json = { ...settings, hooks: kept };
  if (Object.keys(kept).length === 0) delete out.hooks;
  return out;
}

/**
 * The settings with our handlers for every event this Claude Code version knows (replacing any
 * earlier ones); with no version known, the events every version has.
 */
export function withOurs(settings: Json, target: HookTarget, claude: string | undefined): Json {
  const base = withoutOurs(settings);
  const hooks: Json = typeof base.hooks === 'object' && base.hooks !== null && !Array.isArray(base.hooks) ? { ...(base.hooks as Json) } : {};
  for (const { event, wait, matcher } of eventsFor(claude)) {
    if (target.kind === 'http' && event === 'SessionStart') continue; // Claude Code runs no http hooks there
    const group: Group = matcher ? { matcher: '*', hooks: [ourHandler(target, wait)] } : { hooks: [ourHandler(target, wait)] };
    hooks[event] = [...(Array.isArray(hooks[event]) ? (hooks[event] as unknown[]) : []), group];
  }
  return { ...base, hooks };
}

export interface Installed {
  file: string;
  events: string[];
  kind: 'command' | 'http' | 'none';
  command?: string;
  url?: string;
}

/** What of ours a settings file holds. */
export function installedIn(file: string): Installed {
  let settings: Json;
  try {
    settings = readSettings(file);
  } catch {
    return { file, events: [], kind: 'none' };
  }
  const events: string[] = [];
  let found: Handler | undefined;
  for (const [event, groups] of Object.entries((settings.hooks ?? {}) as Json)) {
    if (!Array.isArray(groups)) continue;
    for (const g of groups as Group[]) {
      const h = Array.isArray(g?.hooks) ? (g.hooks as Handler[]).find(isOurs) : undefined;
      if (h) {
        events.push(event);
        found ??= h;
      }
    }
  }
  if (!found) return { file, events: [], kind: 'none' };
  return { file, events, kind: found.type === 'http' ? 'http' : 'command', command: typeof found.command === 'string' ? found.command : undefined, url: typeof found.url === 'string' ? found.url : undefined };
}

/**
 * Why an installed command would not run here, or undefined: an absolute path it names is gone (a
 * Node upgrade, a moved installation), or `ccm-sync` is not on PATH for a PATH-resolved command.
 */
export function commandProblem(command: string, env: NodeJS.ProcessEnv): string | undefined {
  const paths = [...command.matchAll(/'([^']+)'|(\S+)/g)].map((m) => m[1] ?? m[2]!).filter((t) => t.startsWith('/'));
  const missing = paths.find((p) => !existsSync(p));
  if (missing) return `the command names ${missing}, which no longer exists: run \`ccm-sync hook install\` again`;
  if (/^ccm-sync\s/.test(command)) {
    const found = (env.PATH ?? '').split(path.delimiter).some((d) => d && existsSync(path.join(d, 'ccm-sync')));
    if (!found) return 'the command runs `ccm-sync` from PATH, and it is not on this PATH: install ccm-sync (npm install -g ccm-sync)';
  }
  return undefined;
}

/** Strict JSON as Claude Code writes it. */
export function settingsText(settings: Json): string {
  return `${JSON.stringify(settings, null, 2)}\n`;
}

/** The scopes with a settings file of their own here (in $HOME, project and local are the user's). */
export function distinctScopes(dir: string): Scope[] {
  const user = settingsFile('user', process.env, dir);
  return SCOPES.filter((s) => s === 'user' || !sameFile(settingsFile(s, process.env, dir), user));
}
