/** `ccm-sync hook install|uninstall|status`: Claude Code's settings files, and how the hook does. */
import { chmodSync, copyFileSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, InputError } from '../../errors.ts';
import type { Settings } from '../../config/load.ts';
import { makePrivateDir } from '../../config/home.ts';
import { installedIn, readSettings, settingsFile, settingsText, withOurs, withoutOurs, SCOPES, type HookTarget, type Scope } from '../../hooks/install.ts';
import { hookHealth, hookLine } from '../../monitor/hook-health.ts';
import { processAlive } from '../../monitor/status.ts';
import { ago, emit, type GlobalOptions } from '../output.ts';
import { lookLocal } from '../with-local.ts';

export interface HookOptions extends GlobalOptions {
  scope: Scope;
  dryRun?: boolean;
  http?: boolean;
  dir?: string;
}

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

/**
 * The command Claude Code runs: this Node and this installation, by absolute path, so the hook
 * works whatever PATH and Node version the agent's shell has. A home given by --config,
 * CCM_SYNC_CONFIG or CCM_SYNC_HOME is written into it; otherwise the hook finds the home from the
 * agent's working directory, as every command does.
 */
function hookCommand(opts: HookOptions): string {
  const main = fileURLToPath(new URL('../main.js', import.meta.url));
  const env = process.env;
  const pin = opts.config ? `CCM_SYNC_CONFIG=${quote(path.resolve(opts.config))} `
    : env.CCM_SYNC_CONFIG ? `CCM_SYNC_CONFIG=${quote(path.resolve(env.CCM_SYNC_CONFIG))} `
      : env.CCM_SYNC_HOME ? `CCM_SYNC_HOME=${quote(path.resolve(env.CCM_SYNC_HOME))} ` : '';
  return `${pin}${quote(process.execPath)} ${quote(main)} hook claude`;
}

/** The http hook's target: the running daemon's route and its token. */
function httpTarget(settings: Settings, daemon: { pid: number; port: number } | undefined, scope: Scope): HookTarget {
  if (scope === 'project') throw new InputError('--http puts the daemon\'s token in the settings file, and .claude/settings.json is shared through git; use --scope local or --scope user');
  if (settings.api.port === 0) throw new ConfigError('--http needs a fixed api.port (it is 0: a new port at every start); set api.port in the config and restart the daemon');
  if (!daemon || !processAlive(daemon.pid)) throw new InputError('--http points Claude Code at the running daemon, and none runs; start it with `ccm-sync start` (or install the command hook, which needs no daemon)');
  return { kind: 'http', url: `http://127.0.0.1:${daemon.port}/api/hooks/claude`, token: readFileSync(settings.paths.tokenFile, 'utf8').trim() };
}

async function printChange(opts: HookOptions, file: string, before: string, after: string, extra: Record<string, unknown>): Promise<void> {
  const { createTwoFilesPatch } = await import('diff');
  const patch = before === after ? '' : createTwoFilesPatch(file, file, before, after, 'now', opts.dryRun ? 'after (dry run: not written)' : 'after');
  emit(opts, { file, changed: before !== after, dry_run: Boolean(opts.dryRun), diff: patch, ...extra }, () =>
    before === after ? `${file}: already as it should be, nothing to change` : `${patch.trimEnd()}\n${opts.dryRun ? '(dry run: nothing written)' : `wrote ${file}`}`);
}

/** Writes the settings file: a backup of the old one first, then the new one atomically. */
function writeSettings(file: string, text: string, secret: boolean): string | undefined {
  makePrivateDir(path.dirname(file));
  let backup: string | undefined;
  if (existsSync(file)) {
    backup = `${file}.${new Date().toISOString().replace(/[:.]/g, '-')}.ccm-sync-backup`;
    copyFileSync(file, backup);
  }
  const mode = secret ? 0o600 : existsSync(file) ? statSync(file).mode & 0o777 : 0o644;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
  return backup;
}

async function change(opts: HookOptions, edit: (settings: Record<string, unknown>) => Record<string, unknown>, secret = false, extra: Record<string, unknown> = {}): Promise<void> {
  const file = settingsFile(opts.scope, process.env, path.resolve(opts.dir ?? process.cwd()));
  const current = readSettings(file);
  const before = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const next = settingsText(edit(current));
  const same = before.trim() !== '' && settingsText(current) === next;
  const after = same ? before : next;
  let backup: string | undefined;
  if (!opts.dryRun && !same) backup = writeSettings(file, after, secret);
  await printChange(opts, file, before, after, { scope: opts.scope, ...extra, ...(backup ? { backup } : {}) });
}

export async function hookInstallCommand(opts: HookOptions): Promise<void> {
  if (!opts.http) {
    const command = hookCommand(opts);
    await change(opts, (s) => withOurs(s, { kind: 'command', command }), false, { kind: 'command', command });
    return;
  }
  await lookLocal(opts, async (settings, local) => {
    const target = httpTarget(settings, local.state.get('daemon'), opts.scope);
    await change(opts, (s) => withOurs(s, target), true, { kind: 'http', url: target.kind === 'http' ? target.url : undefined });
  });
}

export async function hookUninstallCommand(opts: HookOptions): Promise<void> {
  await change(opts, withoutOurs);
}

export async function hookStatusCommand(opts: Omit<HookOptions, 'scope'>): Promise<void> {
  const dir = path.resolve(opts.dir ?? process.cwd());
  await lookLocal(opts, async (settings, local) => {
    const installs = SCOPES.map((scope) => ({ scope, ...installedIn(settingsFile(scope, process.env, dir)) }));
    const health = hookHealth(local.hookEvents, settings.paths.home);
    emit(opts, { installs, home: settings.paths.home, ...health }, () => [
      ...installs.map((i) => `${i.scope.padEnd(8)}${i.file}: ${i.kind === 'none' ? 'not installed' : `${i.kind} hook on ${i.events.length} events (${i.command ?? i.url})`}`),
      `Home: ${settings.paths.home}`,
      `Events: ${hookLine(health, (iso) => ago(iso)) ?? 'none has arrived yet'}`,
    ].join('\n'));
  });
}
