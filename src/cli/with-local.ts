/**
 * Opens the local database for one command, with the settings resolved from its options.
 * `look` commands (status, lists) create nothing: with no database yet they see an empty one.
 * Other commands record or change state: they create a missing home, saying so on stderr.
 */
import { existsSync } from 'node:fs';
import { loadSettings, type Settings } from '../config/load.ts';
import { ensureHome } from '../config/home.ts';
import { openLocal, type Local } from '../local.ts';
import type { GlobalOptions } from './output.ts';

export type Access = 'look' | 'change';

export function withLocal<T>(opts: GlobalOptions, fn: (settings: Settings, local: Local) => Promise<T>, access: Access = 'change'): Promise<T> {
  return openFor(loadSettings({ configPath: opts.config }), fn, access);
}

function openFor<T>(settings: Settings, fn: (settings: Settings, local: Local) => Promise<T>, access: Access): Promise<T> {
  if (access === 'change') ensureHome({ dir: settings.paths.home, source: settings.paths.homeSource });
  const local = access === 'look' && !existsSync(settings.paths.db) ? openLocal(settings, undefined, { readonly: true }) : openLocal(settings);
  return fn(settings, local).finally(() => local.close());
}

/**
 * withLocal for commands that repair what is already recorded (retry, discard, resolve): with no
 * database yet there is nothing to repair, so they create nothing and run `empty` instead.
 */
export function repairLocal<T>(opts: GlobalOptions, fn: (settings: Settings, local: Local) => Promise<T>, empty: (settings: Settings) => T): Promise<T> {
  const settings = loadSettings({ configPath: opts.config });
  if (!existsSync(settings.paths.db)) return Promise.resolve(empty(settings));
  return openFor(settings, fn, 'change');
}

/** withLocal for commands that only look: they create nothing. */
export function lookLocal<T>(opts: GlobalOptions, fn: (settings: Settings, local: Local) => Promise<T>): Promise<T> {
  return withLocal(opts, fn, 'look');
}
