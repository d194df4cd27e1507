/**
 * Opens the local database for one command, with the settings resolved from its options.
 * `look` commands (status, lists) create nothing: with no database yet they see an empty one.
 * Other commands record or change state: they create a missing home, saying so on stderr.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadSettings, type Settings } from '../config/load.ts';
import { ensureHome } from '../config/home.ts';
import { openLocal, type Local } from '../local.ts';
import { messageOf } from '../errors.ts';
import type { GlobalOptions } from './output.ts';

export type Access = 'look' | 'change';

export function withLocal<T>(opts: GlobalOptions, fn: (settings: Settings, local: Local) => Promise<T>, access: Access = 'change'): Promise<T> {
  return openFor(loadSettings({ configPath: opts.config }), fn, access);
}

function openFor<T>(settings: Settings, fn: (settings: Settings, local: Local) => Promise<T>, access: Access): Promise<T> {
  if (access === 'change') ensureHome({ dir: settings.paths.home, source: settings.paths.homeSource });
  const local = access === 'look' ? openToLook(settings) : openLocal(settings);
  return fn(settings, local).finally(() => local.close());
}

/**
 * A look at the database: read-write when it can be (so an old schema migrates first). When the
 * home cannot be written (a read-only mount, another user's home), SQLite cannot even read it in
 * place (a WAL database needs its -shm file beside it), so the look is at a copy: the database and
 * its WAL, copied into a private temporary folder, removed when the command ends.
 */
export function openToLook(settings: Settings): Local {
  if (!existsSync(settings.paths.db)) return openLocal(settings, undefined, { readonly: true });
  try {
    return openLocal(settings);
  } catch (err) {
    if (!/is read-only|cannot open/.test(messageOf(err))) throw err;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'ccm-look-'));
  const copy = path.join(dir, path.basename(settings.paths.db));
  copyFileSync(settings.paths.db, copy);
  if (existsSync(`${settings.paths.db}-wal`)) copyFileSync(`${settings.paths.db}-wal`, `${copy}-wal`);
  const local = openLocal({ ...settings, paths: { ...settings.paths, db: copy } }, undefined, { readonly: true });
  const close = local.close;
  return { ...local, close: () => { close(); rmSync(dir, { recursive: true, force: true }); } };
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
