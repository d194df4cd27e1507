/** `ccm-sync hook install|uninstall|status`: Claude Code's settings files, and how the hook does. */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createFileDurably, writeFileDurably } from '../../store/durable-file.ts';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, InputError } from '../../errors.ts';
import { loadSettings, type Settings } from '../../config/load.ts';
import { ensureHome, makePrivateDir, userHome } from '../../config/home.ts';
import { readToken } from '../../daemon/token.ts';
import { CLAUDE_EVENTS, eventsFor } from '../../hooks/claude.ts';
import { claudeVersion, commandProblem, distinctScopes, installedIn, readSettings, sameFile, settingsFile, settingsText, withOurs, withoutOurs, type HookTarget, type Scope } from '../../hooks/install.ts';
import { hookHealth, hookLine } from '../../monitor/hook-health.ts';
import { processAlive } from '../../monitor/status.ts';
import { ago, emit, type GlobalOptions } from '../output.ts';
import { lookLocal } from '../with-local.ts';

export interface HookOptions extends GlobalOptions {
  scope: Scope;
  dryRun?: boolean;
  http?: boolean;
  dir?: string;
  /** Print the settings file's whole diff (a dry run always does). */
  diff?: boolean;
  /** The Claude Code version to install for (default: what `claude --version` says). */
  claudeVersion?: string;
}

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

/**
 * The command Claude Code runs. For the user's and the local settings: this Node and this
 * installation by absolute path, so the hook works whatever PATH and Node the agent's shell has
 * (`hook status` says when that path is gone, after an upgrade). For project settings, shared
 * through git: `ccm-sync hook claude` from PATH, which works on every teammate's machine that has
 * ccm-sync. A home given by --config, CCM_SYNC_CONFIG or CCM_SYNC_HOME is written into the
 * command; otherwise the hook finds the home from the agent's working directory.
 */
function hookCommand(opts: HookOptions): string {
  if (opts.scope === 'project') return 'ccm-sync hook claude';
  const main = fileURLToPath(new URL('../main.js', import.meta.url));
  return `${homePin(opts)}${quote(process.execPath)} ${quote(main)} hook claude`;
}

/**
 * The home written into the command: the one given (--config, CCM_SYNC_CONFIG, CCM_SYNC_HOME), or
 * the .ccm-global this install found from here. Claude Code runs the hook from each session's
 * folder, where the search would find another home, or none; only the per-user default is left to
 * the search.
 */
function homePin(opts: HookOptions): string {
  const env = process.env;
  if (opts.config) return `CCM_SYNC_CONFIG=${quote(path.resolve(opts.config))} `;
  if (env.CCM_SYNC_CONFIG) return `CCM_SYNC_CONFIG=${quote(path.resolve(env.CCM_SYNC_CONFIG))} `;
  if (env.CCM_SYNC_HOME) return `CCM_SYNC_HOME=${quote(path.resolve(env.CCM_SYNC_HOME))} `;
  const { paths } = loadSettings({});
  return paths.homeSource === 'nearest .ccm-global' && !sameFile(paths.home, userHome(env)) ? `CCM_SYNC_HOME=${quote(paths.home)} ` : '';
}

/** Says which events' hooks are not a list, as Claude Code expects: install replaces them (the backup keeps them). */
function warnMalformed(file: string): void {
  const hooks = readSettings(file).hooks;
  const bad = hooks && typeof hooks === 'object' ? Object.entries(hooks).filter(([event, v]) => CLAUDE_EVENTS.some((e) => e.event === event) && !Array.isArray(v)).map(([e]) => e) : [];
  if (bad.length) process.stderr.write(`ccm-sync: ${file}: hooks.${bad.join(', hooks.')} ${bad.length === 1 ? 'is' : 'are'} not a list of hook groups; Claude Code ignores ${bad.length === 1 ? 'it' : 'them'}, and this install replaces ${bad.length === 1 ? 'it' : 'them'} (the backup in the home keeps the old file)\n`);
}

/** Project and local settings in $HOME are the user's own file: refuse to treat them as another. */
function checkScope(scope: Scope, dir: string): void {
  const file = settingsFile(scope, process.env, dir);
  if (scope !== 'user' && sameFile(file, settingsFile('user', process.env, dir))) {
    throw new InputError(`here (${dir}) the ${scope} settings file ${file} is the user's own settings file; run this from the project's folder (or pass --dir), or use --scope user`);
  }
}

/** The http hook's target: the running daemon's route and its token. */
function httpTarget(settings: Settings, daemon: { pid: number; port: number } | undefined, scope: Scope): HookTarget {
  if (scope === 'project') throw new InputError('--http puts the daemon\'s token in the settings file, and .claude/settings.json is shared through git; use --scope local or --scope user');
  if (settings.api.port === 0) throw new ConfigError('--http needs a fixed api.port (it is 0: a new port at every start); set api.port in the config and restart the daemon');
  if (!daemon || !processAlive(daemon.pid)) throw new InputError('--http points Claude Code at the running daemon, and none runs; start it with `ccm-sync start` (or install the command hook, which needs no daemon)');
  const token = readToken(settings.paths.tokenFile); // registered as a secret: masked in what we print
  if (!token) throw new InputError(`the daemon's token ${settings.paths.tokenFile} cannot be read`);
  return { kind: 'http', url: `http://127.0.0.1:${daemon.port}/api/hooks/claude`, token };
}

async function printChange(opts: HookOptions, file: string, before: string, after: string, extra: Record<string, unknown>): Promise<void> {
  const { createTwoFilesPatch } = await import('diff');
  const patch = before === after ? '' : createTwoFilesPatch(file, file, before, after, 'now', opts.dryRun ? 'after (dry run: not written)' : 'after');
  const what = typeof extra.summary === 'string' ? `: ${extra.summary}` : '';
  const backup = typeof extra.backup === 'string' ? `\nthe file as it was: ${extra.backup}` : '';
  emit(opts, { file, changed: before !== after, dry_run: Boolean(opts.dryRun), diff: patch, ...extra }, () => {
    if (before === after) return `${file}: already as it should be, nothing to change${what}`;
    if (opts.dryRun) return `${patch.trimEnd()}\n(dry run: nothing written)`;
    return `${opts.diff ? `${patch.trimEnd()}\n` : ''}wrote ${file}${what}${backup}`;
  });
}

/**
 * Writes the settings file: a backup of the old one first (in the ccm-sync home, 0600: never
 * beside it, where it could be committed with the project), then the new one atomically, through
 * a symlink to the file it points at.
 */
function writeSettings(link: string, text: string, secret: boolean, backupDir: string): string | undefined {
  const file = existsSync(link) ? realpathSync(link) : link;
  makePrivateDir(path.dirname(file));
  let backup: string | undefined;
  if (existsSync(file)) {
    makePrivateDir(backupDir);
    backup = path.join(backupDir, `${path.basename(file)}.${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    // The backup is whole on disk before the settings are replaced, and the replacement is atomic:
    // a power cut leaves the old file or the new one, never an empty one (durable-file.ts).
    createFileDurably(backup, readFileSync(file), 0o600);
  }
  const mode = secret ? 0o600 : existsSync(file) ? statSync(file).mode & 0o777 : 0o644;
  writeFileDurably(file, text, { mode });
  return backup;
}

async function change(opts: HookOptions, edit: (settings: Record<string, unknown>) => Record<string, unknown>, secret = false, extra: Record<string, unknown> = {}): Promise<string> {
  const file = settingsFile(opts.scope, process.env, path.resolve(opts.dir ?? process.cwd()));
  const current = readSettings(file);
  const before = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const next = settingsText(edit(current));
  const same = settingsText(current) === next && (before.trim() !== '' || next === settingsText({}));
  const after = same ? before : next;
  let backup: string | undefined;
  if (!opts.dryRun && !same) {
    const settings = loadSettings({ configPath: opts.config });
    ensureHome({ dir: settings.paths.home, source: settings.paths.homeSource });
    backup = writeSettings(file, after, secret, path.join(settings.paths.home, 'backups', 'claude-settings'));
  }
  await printChange(opts, file, before, after, { scope: opts.scope, ...extra, ...(backup ? { backup } : {}) });
  return file;
}

/** Other settings files that hold ccm-sync too: Claude Code would run both, recording each event twice. */
function alsoInstalled(except: Scope, dir: string): string[] {
  const target = settingsFile(except, process.env, dir);
  return distinctScopes(dir).filter((s) => !sameFile(settingsFile(s, process.env, dir), target))
    .map((s) => installedIn(settingsFile(s, process.env, dir))).filter((i) => i.kind !== 'none').map((i) => i.file);
}

export async function hookInstallCommand(opts: HookOptions): Promise<void> {
  const dir = path.resolve(opts.dir ?? process.cwd());
  checkScope(opts.scope, dir);
  warnMalformed(settingsFile(opts.scope, process.env, dir));
  const claude = opts.claudeVersion ?? claudeVersion(process.env);
  const events = eventsFor(claude).map((e) => e.event);
  const facts = {
    claude_version: claude ?? null, events,
    summary: `ccm-sync's hook on ${events.length} events, for ${claude ? `Claude Code ${claude}` : 'any Claude Code (none answered `claude --version`: only the events every version knows; run this again once it is installed, or pass --claude-version)'}`,
  };
  if (!opts.http) {
    const command = hookCommand(opts);
    await change(opts, (s) => withOurs(s, { kind: 'command', command }, claude), false, { kind: 'command', command, ...facts });
    const problem = commandProblem(command, process.env);
    if (problem && !opts.dryRun) process.stderr.write(`ccm-sync: warning: ${problem}. Until it runs, Claude Code shows a hook error for every event and nothing is recorded\n`);
  } else {
    await lookLocal(opts, async (settings, local) => {
      const target = httpTarget(settings, local.state.get('daemon'), opts.scope);
      await change(opts, (s) => withOurs(s, target, claude), true, { kind: 'http', url: target.kind === 'http' ? target.url : undefined, ...facts });
    });
  }
  for (const other of alsoInstalled(opts.scope, dir)) {
    process.stderr.write(`ccm-sync: ${other} holds ccm-sync's hook too; Claude Code runs both, so every event would be recorded twice. Remove one: \`ccm-sync hook uninstall --scope …\`\n`);
  }
}

export async function hookUninstallCommand(opts: HookOptions): Promise<void> {
  checkScope(opts.scope, path.resolve(opts.dir ?? process.cwd()));
  const file = settingsFile(opts.scope, process.env, path.resolve(opts.dir ?? process.cwd()));
  if (!existsSync(file) || installedIn(file).kind === 'none') {
    emit(opts, { file, changed: false, dry_run: Boolean(opts.dryRun), diff: '' }, () => `ccm-sync's hook is not in ${file}: nothing to remove`);
    return;
  }
  await change(opts, withoutOurs);
}

export async function hookStatusCommand(opts: Omit<HookOptions, 'scope'>): Promise<void> {
  const dir = path.resolve(opts.dir ?? process.cwd());
  await lookLocal(opts, async (settings, local) => {
    const claude = claudeVersion(process.env);
    const knows = eventsFor(claude).map((e) => e.event);
    const installs = distinctScopes(dir).map((scope) => {
      const i = installedIn(settingsFile(scope, process.env, dir));
      const would_add = i.kind === 'none' ? [] : knows.filter((e) => !i.events.includes(e) && !(i.kind === 'http' && e === 'SessionStart'));
      const unknown_to_claude = claude ? i.events.filter((e) => CLAUDE_EVENTS.some((c) => c.event === e) && !knows.includes(e)) : [];
      return { scope, ...i, would_add, unknown_to_claude, problem: i.command ? commandProblem(i.command, process.env) : undefined };
    });
    const health = hookHealth(local.hookEvents, settings.paths.home, local.state.get('hook_intake')?.error ?? null);
    const twice = installs.filter((i) => i.kind !== 'none').length > 1;
    const more = (i: (typeof installs)[number]) => [
      ...(i.problem ? [i.problem] : []),
      ...(i.would_add.length ? [`Claude Code ${claude} also has ${i.would_add.join(', ')}: \`ccm-sync hook install --scope ${i.scope}\` adds ${i.would_add.length === 1 ? 'it' : 'them'}`] : []),
      ...(i.unknown_to_claude.length ? [`Claude Code ${claude} does not know ${i.unknown_to_claude.join(', ')} and warns about ${i.unknown_to_claude.length === 1 ? 'it' : 'them'}: \`ccm-sync hook install --scope ${i.scope}\` takes ${i.unknown_to_claude.length === 1 ? 'it' : 'them'} out`] : []),
    ].map((l) => `\n        ${l}`).join('');
    emit(opts, { claude_version: claude ?? null, installs, installed_twice: twice, home: settings.paths.home, ...health }, () => [
      `Claude Code: ${claude ?? 'not found on PATH (`claude --version` did not answer)'}`,
      ...installs.map((i) => `${i.scope.padEnd(8)}${i.file}: ${i.kind === 'none' ? 'not installed' : `${i.kind} hook on ${i.events.length} events: ${i.events.join(', ')} (${i.command ?? i.url})`}${more(i)}`),
      ...(twice ? ['Installed in more than one settings file: Claude Code runs each, so every event is recorded more than once. Keep one.'] : []),
      `Home: ${settings.paths.home}`,
      `Events: ${hookLine(health, (iso) => ago(iso)) ?? 'none has arrived yet'}`,
    ].join('\n'));
  });
}
