/**
 * The home's cache of the validated config (./load.ts uses it): keyed on the config file's text,
 * the shipped mode presets and this package's version and location; its contents carry a
 * checksum. Anything that does not match is ignored and the config is parsed and validated afresh.
 */
import path from 'node:path';
import { fs } from '../builtins.ts';
import { writeFileDurably } from '../store/durable-file.ts';
import { VERSION } from '../version.ts';
import { makePrivateDir } from './home.ts';
import { MODES_DIR } from './modes.ts';
import type { ConfigFile } from './schema.ts';

const CACHE_FORMAT = 'ccm-sync-config-4';
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/**
 * What the cache depends on, as one string: the format, this package's version and location, the
 * schema module, the config file's path and text, and every shipped mode preset. Kept whole in the cache and compared
 * as is (a few KB): no hashing library to load on the hook's path.
 */
export function cacheKey(configFile: string, text: string | undefined): string {
  // The schema's own file: a build that changes defaults (same version, in development) is new.
  const schemaFile = fs.statSync(new URL(`./schema${EXT}`, import.meta.url));
  const parts = [CACHE_FORMAT, VERSION, import.meta.url, `${schemaFile.size}:${schemaFile.mtimeMs}`, configFile, text ?? '\0none'];
  for (const name of fs.readdirSync(MODES_DIR).sort()) parts.push(name, fs.readFileSync(new URL(name, MODES_DIR), 'utf8'));
  return parts.join('\0');
}

/** A checksum of the cached config (cyrb53), so a damaged or edited cache is not used. */
function checksum(config: unknown): string {
  const str = JSON.stringify(config);
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

export function readCache(file: string, key: string): ConfigFile | undefined {
  try {
    const cached = JSON.parse(fs.readFileSync(file, 'utf8')) as { key?: string; sum?: string; config?: ConfigFile };
    if (cached.key !== key || !(typeof cached.config === 'object' && cached.config !== null && !Array.isArray(cached.config)) || cached.sum !== checksum(cached.config)) return undefined;
    return cached.config;
  } catch {
    return undefined;
  }
}

/** Writes the cache inside the home (which exists: it holds the database). */
export function writeCache(file: string, key: string, config: ConfigFile, homeDir: string): void {
  try {
    if (readCache(file, key)) return;
    fs.readdirSync(homeDir); // throws when the home does not exist
    makePrivateDir(path.dirname(file));
    writeFileDurably(file, JSON.stringify({ key, sum: checksum(config), config }), { mode: 0o600 });
  } catch {
    // No home yet, or a read-only one: the next run validates again, which only costs time.
  }
}

