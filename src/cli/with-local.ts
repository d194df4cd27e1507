/** Opens the local database for one command, with the settings resolved from its options. */
import { loadSettings, type Settings } from '../config/load.ts';
import { openLocal, type Local } from '../local.ts';
import type { GlobalOptions } from './output.ts';

export function withLocal<T>(opts: GlobalOptions, fn: (settings: Settings, local: Local) => Promise<T>): Promise<T> {
  const settings = loadSettings({ configPath: opts.config });
  const local = openLocal(settings);
  return fn(settings, local).finally(() => local.close());
}
