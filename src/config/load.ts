/**
 * Resolves the options once, at the edge: finds the config file, merges the mode preset under it,
 * validates with zod, reads secrets from the environment and resolves every path. Inner code gets
 * the resulting `Settings` and never reads files or env variables itself.
 *
 * Paths in the file are resolved against the project directory: the directory holding the config
 * file, or its parent when the file lives in a `.ccm-global/` directory (the default layout, so that
 * `.ccm-global/config.yaml` and `.ccm-global/ccm.db` sit side by side).
 */
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import { registerSecret } from '../redact.ts';
import type { ConfigFile } from './schema.ts';

// zod and yaml cost ~100 ms to load, and `ccm-sync enqueue` runs once per hook event. They are
// loaded only when the validated config is not in the cache beside the config file (keyed by the
// file's path, size and mtime and by this package's version), so the usual enqueue skips both.
const requireHere = createRequire(import.meta.url);
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const CACHE_VERSION = `ccm-sync-config-1:${import.meta.url}`;
const CACHE_FILE = '.ccm-sync-config-cache.json';

function parseYaml(text: string): unknown {
  return (requireHere('yaml') as typeof import('yaml')).parse(text);
}

function schema(): typeof import('./schema.ts') {
  return requireHere(`./schema${EXT}`) as typeof import('./schema.ts');
}

export const DEFAULT_CONFIG_PATH = '.ccm-global/config.yaml';
const MODES_DIR = new URL('../../config/modes/', import.meta.url);

export interface Secrets {
  databaseUrl?: string;
  supabaseUrl?: string;
  supabaseAnonKey?: string;
  accessToken?: string;
}

export interface Settings extends ConfigFile {
  /** Where everything lives, absolute. */
  paths: {
    configFile: string;
    configFound: boolean;
    base: string;
    db: string;
    jobsDb: string;
    embedded: string;
    tokenFile: string;
  };
  secrets: Secrets;
}

export interface LoadOptions {
  /** --config, else CCM_SYNC_CONFIG, else .ccm-global/config.yaml in cwd. */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Extra keys merged over the file (tests and programs that embed ccm-sync). */
  overrides?: Record<string, unknown>;
}

type Tree = Record<string, unknown>;

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isTree(v) && isTree(out[k]) ? deepMerge(out[k] as Tree, v) : v;
  }
  return out;
}

function readYaml(file: string, what: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${what} ${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isTree(doc)) throw new ConfigError(`${what} ${file} must be a YAML mapping (key: value), not ${Array.isArray(doc) ? 'a list' : typeof doc}`);
  return doc;
}

function formatIssues(file: string, issues: readonly { path: PropertyKey[]; message: string; code: string; keys?: string[] }[]): string {
  const lines = issues.map((i) => {
    const where = i.path.map(String).join('.') || '(top level)';
    if (i.code === 'unrecognized_keys' && i.keys) return `  ${where}: unknown key(s) ${i.keys.join(', ')} (see \`ccm-sync config reference\`)`;
    return `  ${where}: ${i.message}`;
  });
  return `invalid config ${file}:\n${lines.join('\n')}`;
}

export function loadSettings(opts: LoadOptions = {}): Settings {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const configFile = path.resolve(cwd, opts.configPath ?? env.CCM_SYNC_CONFIG ?? DEFAULT_CONFIG_PATH);
  const explicit = opts.configPath !== undefined || env.CCM_SYNC_CONFIG !== undefined;
  const configFound = existsSync(configFile);
  if (explicit && !configFound) {
    throw new ConfigError(`config file ${configFile} does not exist; create one with \`ccm-sync init --config ${configFile}\``);
  }
  const cfg = (opts.overrides ? undefined : readCache(configFile, configFound)) ?? validate(configFile, configFound, opts.overrides);
  return resolveSettings(cfg, configFile, configFound, env);
}

function cacheKey(configFile: string, found: boolean): string {
  if (!found) return `${CACHE_VERSION}|${configFile}|none`;
  const st = statSync(configFile);
  return `${CACHE_VERSION}|${configFile}|${st.size}|${st.mtimeMs}`;
}

function readCache(configFile: string, found: boolean): ConfigFile | undefined {
  try {
    const cached = JSON.parse(readFileSync(path.join(path.dirname(configFile), CACHE_FILE), 'utf8')) as { key: string; config: ConfigFile };
    return cached.key === cacheKey(configFile, found) ? cached.config : undefined;
  } catch {
    return undefined;
  }
}

function writeCache(configFile: string, found: boolean, config: ConfigFile): void {
  const file = path.join(path.dirname(configFile), CACHE_FILE);
  try {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ key: cacheKey(configFile, found), config }));
    renameSync(tmp, file);
  } catch {
    // A read-only or missing directory only costs the next run the validation time.
  }
}

function validate(configFile: string, configFound: boolean, overrides: Record<string, unknown> | undefined): ConfigFile {
  let raw: Tree = configFound ? readYaml(configFile, 'config file') : {};
  if (overrides) raw = deepMerge(raw, overrides);

  const sync = isTree(raw.sync) ? raw.sync : {};
  const mode = sync.mode ?? 'adaptive';
  if (typeof mode !== 'string' || !['adaptive', 'aggressive', 'conservative'].includes(mode)) {
    throw new ConfigError(`invalid config ${configFile}:\n  sync.mode: expected adaptive, aggressive or conservative, got ${JSON.stringify(mode)}`);
  }
  const preset = readYaml(path.join(MODES_DIR.pathname, `${mode}.yaml`), 'mode preset');
  const parsed = schema().configSchema.safeParse(deepMerge(preset, raw));
  if (!parsed.success) throw new ConfigError(formatIssues(configFile, parsed.error.issues as never));
  const cfg = parsed.data;

  const names = new Set<string>();
  for (const job of cfg.sync.scheduled_jobs) {
    if (names.has(job.name)) throw new ConfigError(`invalid config ${configFile}:\n  sync.scheduled_jobs: the name ${job.name} is used twice`);
    names.add(job.name);
  }
  if (!overrides) writeCache(configFile, configFound, cfg);
  return cfg;
}

function resolveSettings(cfg: ConfigFile, configFile: string, configFound: boolean, env: NodeJS.ProcessEnv): Settings {
  const dir = path.dirname(configFile);
  const base = path.basename(dir) === '.ccm-global' ? path.dirname(dir) : dir;
  const secrets: Secrets = {
    databaseUrl: env.CCM_SYNC_DATABASE_URL || undefined,
    supabaseUrl: env.SUPABASE_URL || undefined,
    supabaseAnonKey: env.SUPABASE_ANON_KEY || undefined,
    accessToken: env.CCM_SYNC_ACCESS_TOKEN || undefined,
  };
  for (const value of [secrets.databaseUrl, secrets.supabaseAnonKey, secrets.accessToken]) registerSecret(value);
  return {
    ...cfg,
    paths: {
      configFile,
      configFound,
      base,
      db: path.resolve(base, cfg.store.path),
      jobsDb: path.resolve(base, cfg.store.jobs_path),
      embedded: path.resolve(base, cfg.remote.embedded_path),
      tokenFile: path.resolve(base, cfg.api.token_file),
    },
    secrets,
  };
}

/** The periodic interval (seconds) before adaptation: by system type in auto selection. */
export function baseIntervalSeconds(settings: Pick<Settings, 'sync' | 'system'>): number {
  const { intervals, interval_selection } = settings.sync;
  if (interval_selection === 'manual') return intervals.default;
  switch (settings.system.type) {
    case 'production_server':
      return intervals.high_priority_system;
    case 'backup_server':
      return intervals.low_priority_system;
    default:
      return intervals.default;
  }
}
