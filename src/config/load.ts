/**
 * Resolves the options once, at the edge: finds the home (./home.ts), merges the mode preset under
 * its config file, validates with zod, reads secrets from the environment and resolves every path.
 * Inner code gets the resulting `Settings` and never reads files or env variables itself.
 *
 * Relative paths in the config are relative to the home directory (see resolveInHome).
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fs } from '../builtins.ts';
import { ConfigError } from '../errors.ts';
import { registerSecret } from '../redact.ts';
import { cacheKey, readCache, writeCache } from './cache.ts';
import { findHome, resolveInHome, type HomeSource } from './home.ts';
import { MODES, MODES_DIR } from './modes.ts';
import type { ConfigFile } from './schema.ts';

// zod and yaml cost ~100 ms to load, and `ccm-sync enqueue` runs once per hook event. They are
// loaded only when the validated config is not in the home's cache (./cache.ts), so the usual
// enqueue skips both.
const requireHere = createRequire(import.meta.url);
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

function parseYaml(text: string): unknown {
  return (requireHere('yaml') as typeof import('yaml')).parse(text);
}

function schema(): typeof import('./schema.ts') {
  return requireHere(`./schema${EXT}`) as typeof import('./schema.ts');
}

export const DEFAULT_CONFIG_PATH = '.ccm-global/config.yaml';

export interface Secrets {
  databaseUrl?: string;
  supabaseUrl?: string;
  /** The project's publishable key (sb_publishable_…), or the legacy anon key: the sync path's `apikey`. */
  publishableKey?: string;
  publishableKeyVar?: string;
  accessToken?: string;
  /** The secret key (sb_secret_…) or legacy service-role key: only `ccm-sync fleet` (and the dashboard's fleet view) use it, to read every system. */
  secretKey?: string;
  secretKeyVar?: string;
  /** CCM_SYNC_PATH_SALT: what hooks.paths: hashed hashes file paths and repository names with. */
  pathSalt?: string;
  /** One line for each legacy variable in use. */
  notices: string[];
}

export interface Settings extends Omit<ConfigFile, 'system'> {
  /** system.id is always set: the config's, else this machine's hostname (defaultSystemId). */
  system: ConfigFile['system'] & { id: string };
  /** Where everything lives, absolute. */
  paths: {
    /** The home directory (may not exist yet: see ensureHome). */
    home: string;
    homeSource: HomeSource;
    configFile: string;
    configFound: boolean;
    db: string;
    jobsDb: string;
    embedded: string;
    tokenFile: string;
    cacheFile: string;
    /** hooks.pricing_file: prices over the shipped config/pricing.yaml (hooks/pricing.ts). */
    pricingFile?: string;
  };
  secrets: Secrets;
}

export interface LoadOptions {
  /** --config; else CCM_SYNC_CONFIG, CCM_SYNC_HOME, the nearest .ccm-global, ~/.ccm-global. */
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

function readText(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

/** A YAML syntax error with its line, column and the offending line, for a person to find it. */
function yamlProblem(text: string, err: unknown): string {
  const e = err as { message?: string; linePos?: { line: number; col: number }[] };
  const reason = (e.message ?? String(err)).split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  const pos = e.linePos?.[0];
  if (!pos) return reason;
  const line = text.split(/\r?\n/)[pos.line - 1] ?? '';
  const gutter = String(pos.line);
  return `line ${pos.line}, column ${pos.col}: ${reason}\n  ${gutter} | ${line}\n  ${' '.repeat(gutter.length)} | ${' '.repeat(Math.max(0, pos.col - 1))}^`;
}

function parseTree(text: string, file: string, what: string): Tree {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${what} ${file} is not valid YAML at ${yamlProblem(text, err)}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isTree(doc)) throw new ConfigError(`${what} ${file} must be a YAML mapping (key: value), not ${Array.isArray(doc) ? 'a list' : typeof doc}`);
  return doc;
}

function issueLine(i: { path: PropertyKey[]; message: string; code: string; keys?: string[] }): string {
  const where = i.path.map(String).join('.') || '(top level)';
  if (i.code === 'unrecognized_keys' && i.keys) return `${where}: unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')} (see \`ccm-sync config reference\`)`;
  return `${where}: ${i.message}`;
}

function invalid(file: string, problems: string[]): ConfigError {
  const head = problems.length > 1 ? `invalid config ${file} (${problems.length} problems):` : `invalid config ${file}:`;
  return new ConfigError(`${head}\n${problems.map((p) => `  ${p}`).join('\n')}`);
}

/**
 * A config file's folder is its home. Two ccm-sync configs in one folder (prod.yaml, staging.yaml)
 * that keep the default store would share one outbox without a word: refused, naming both.
 */
function refuseSharedHome(configFile: string): void {
  const dir = path.dirname(configFile);
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => /\.ya?ml$/.test(n) && path.join(dir, n) !== configFile);
  } catch {
    return;
  }
  for (const n of names) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, n), 'utf8');
    } catch {
      continue;
    }
    if (/^(system|remote|sync):/m.test(text) && !/^store:/m.test(text)) {
      throw new ConfigError(`${configFile} and ${path.join(dir, n)} are both ccm-sync configs in ${dir}, and a config's folder is its home: they would share one outbox (${path.join(dir, 'ccm.db')}). Give each config a folder of its own, or set store.path and store.jobs_path in one of them`);
    }
  }
}

export function loadSettings(opts: LoadOptions = {}): Settings {
  const env = opts.env ?? process.env;
  const home = findHome({ configPath: opts.configPath, env, cwd: opts.cwd ?? process.cwd() });
  const explicit = home.source === '--config' || home.source === 'CCM_SYNC_CONFIG';
  let text: string | undefined;
  try {
    text = fs.readFileSync(home.configFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') readText(home.configFile, 'config file'); // throws, naming the cause
    if (explicit) throw new ConfigError(`config file ${home.configFile} (from ${home.source}) does not exist; create one with \`ccm-sync init --config ${home.configFile}\``);
  }
  const cacheFile = path.join(home.dir, 'cache', 'config.json');
  const key = opts.overrides ? '' : cacheKey(home.configFile, text);
  const cfg = (opts.overrides ? undefined : readCache(cacheFile, key)) ?? validate(home.configFile, text, opts.overrides);
  const r = (p: string) => resolveInHome(home.dir, p);
  if (explicit && cfg.store.path === 'ccm.db') refuseSharedHome(home.configFile);
  // Read at first use (not on the hook's path); missing, every task would go up with no cost and no tokens.
  if (cfg.hooks.pricing_file && !fs.existsSync(r(cfg.hooks.pricing_file))) {
    throw invalid(home.configFile, [`hooks.pricing_file: ${r(cfg.hooks.pricing_file)} does not exist; write it (the shape of config/pricing.yaml: models: {<model>: {input, output, cache_write, cache_read}}), or remove the key to use the shipped prices`]);
  }
  // Only a home in use (it has a database) gets a cache: a command that only looks creates nothing.
  if (!opts.overrides && fs.existsSync(r(cfg.store.path))) writeCache(cacheFile, key, cfg, home.dir);
  const secrets = readSecrets(env);
  return {
    ...cfg,
    system: { ...cfg.system, id: cfg.system.id ?? schema().defaultSystemId(os.hostname()) },
    paths: {
      home: home.dir, homeSource: home.source, configFile: home.configFile, configFound: text !== undefined,
      db: r(cfg.store.path), jobsDb: r(cfg.store.jobs_path), embedded: r(cfg.remote.embedded_path), tokenFile: r(cfg.api.token_file), cacheFile,
      ...(cfg.hooks.pricing_file ? { pricingFile: r(cfg.hooks.pricing_file) } : {}),
    },
    secrets,
  };
}

/** The first of `names` set in env, and a notice when it is the legacy one (the last). */
function firstOf(env: NodeJS.ProcessEnv, names: [string, string], notices: string[], instead: string): [string | undefined, string | undefined] {
  const [current, legacy] = names;
  if (env[current]) return [env[current], current];
  if (!env[legacy]) return [undefined, undefined];
  notices.push(`${legacy} is a legacy Supabase key, which Supabase is retiring: use ${current} (${instead})`);
  return [env[legacy], legacy];
}

function readSecrets(env: NodeJS.ProcessEnv): Secrets {
  const notices: string[] = [];
  const [publishableKey, publishableKeyVar] = firstOf(env, ['SUPABASE_PUBLISHABLE_KEY', 'SUPABASE_ANON_KEY'], notices, 'an sb_publishable_… key, Project Settings → API Keys');
  const [secretKey, secretKeyVar] = firstOf(env, ['SUPABASE_SECRET_KEY', 'SUPABASE_SERVICE_ROLE_KEY'], notices, 'an sb_secret_… key, Project Settings → API Keys');
  const secrets: Secrets = {
    databaseUrl: env.CCM_SYNC_DATABASE_URL || undefined,
    supabaseUrl: env.SUPABASE_URL || undefined,
    publishableKey,
    publishableKeyVar,
    accessToken: env.CCM_SYNC_ACCESS_TOKEN || undefined,
    secretKey,
    secretKeyVar,
    pathSalt: env.CCM_SYNC_PATH_SALT || undefined,
    notices,
  };
  for (const value of [secrets.databaseUrl, secrets.publishableKey, secrets.accessToken, secrets.secretKey, secrets.pathSalt]) registerSecret(value);
  return secrets;
}

function validate(configFile: string, text: string | undefined, overrides: Record<string, unknown> | undefined): ConfigFile {
  let raw: Tree = text === undefined ? {} : parseTree(text, configFile, 'config file');
  if (overrides) raw = deepMerge(raw, overrides);
  const problems: string[] = [];
  if (raw.sync !== undefined && raw.sync !== null && !isTree(raw.sync)) {
    problems.push(`sync: expected a mapping of settings, such as "sync: {mode: aggressive}", got ${JSON.stringify(raw.sync)}`);
  }
  const sync = isTree(raw.sync) ? raw.sync : {};
  let mode = sync.mode ?? 'adaptive';
  if (typeof mode !== 'string' || !MODES.includes(mode)) {
    problems.push(`sync.mode: expected adaptive, aggressive or conservative, got ${JSON.stringify(mode)}`);
    mode = 'adaptive'; // check everything else against the default preset
  }
  const presetFile = fileURLToPath(new URL(`${mode as string}.yaml`, MODES_DIR));
  const preset = parseTree(readText(presetFile, 'mode preset'), presetFile, 'mode preset');
  const parsed = schema().configSchema.safeParse(deepMerge(preset, { ...raw, sync: { ...sync, mode } }));
  if (!parsed.success) problems.push(...parsed.error.issues.map((i) => issueLine(i as never)));
  if (parsed.success) {
    const names = new Set<string>();
    for (const job of parsed.data.sync.scheduled_jobs) {
      if (names.has(job.name)) problems.push(`sync.scheduled_jobs: the name ${job.name} is used twice`);
      names.add(job.name);
    }
  }
  if (problems.length) throw invalid(configFile, problems);
  return parsed.data!;
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
