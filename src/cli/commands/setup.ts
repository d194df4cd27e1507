/** `ccm-sync init` and `ccm-sync config reference`. */
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { writeFileDurably } from '../../store/durable-file.ts';
import path from 'node:path';
import { InputError } from '../../errors.ts';
import { tokenFacts } from '../../remote/credentials.ts';
import { DEFAULT_CONFIG_PATH, loadSettings } from '../../config/load.ts';
import { CONFIG_NAME, findHome, makePrivateDir, nearestHome, userHome, type HomeSource } from '../../config/home.ts';
import { configSchema } from '../../config/schema.ts';
import { emit, type GlobalOptions } from '../output.ts';

const STARTER = new URL('../../../config/starter.yaml', import.meta.url);

/**
 * `ccm-sync init`: creates a home with a commented config. Where: --config, CCM_SYNC_CONFIG or
 * CCM_SYNC_HOME when given, ~/.ccm-global with --user, else .ccm-global/ in this directory.
 */
export async function initCommand(opts: GlobalOptions & { force?: boolean; systemId?: string; user?: boolean }): Promise<void> {
  const env = process.env;
  const file = opts.config ?? env.CCM_SYNC_CONFIG
    ? path.resolve((opts.config ?? env.CCM_SYNC_CONFIG)!)
    : opts.user ? path.join(userHome(env), CONFIG_NAME)
      : env.CCM_SYNC_HOME ? path.resolve(env.CCM_SYNC_HOME, CONFIG_NAME) : path.resolve(DEFAULT_CONFIG_PATH);
  if (existsSync(file) && !opts.force) throw new InputError(`${file} already exists; pass --force to overwrite it`);
  // Here, in a folder every user can write (/tmp), the search would skip the home (untrustedHome).
  const parent = path.dirname(path.dirname(file));
  if (file === path.resolve(DEFAULT_CONFIG_PATH) && statSync(parent).mode & 0o002) {
    throw new InputError(`${parent} can be written by every user, so a home there could be replaced by anyone, and commands would not use it; run init in a folder of your own, or pass --user`);
  }
  const { SYSTEM_ID } = await import('../../config/schema.ts');
  if (opts.systemId !== undefined && !SYSTEM_ID.test(opts.systemId)) {
    throw new InputError(`--system-id must be 1–128 letters, digits and . _ : - (got ${JSON.stringify(opts.systemId)})`);
  }
  // The home commands here used so far: after this one exists, they use it instead.
  const before = findHome({ env, cwd: process.cwd() });
  let text = readFileSync(STARTER, 'utf8');
  const { defaultSystemId } = await import('../../config/schema.ts');
  text = text.replace('id: my-workstation', `id: ${JSON.stringify(opts.systemId ?? defaultSystemId(hostname()))}`);
  makePrivateDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  try {
    loadSettings({ configPath: tmp, overrides: {} }); // the starter must itself be valid
  } finally {
    rmSync(tmp, { force: true });
  }
  writeFileDurably(file, text, { mode: 0o600 });
  const moved = before.dir !== path.dirname(file) && existsSync(path.join(before.dir, 'ccm.db'));
  if (moved) process.stderr.write(`ccm-sync: commands run in ${process.cwd()} used ${before.dir} until now; they use ${path.dirname(file)} from now on. Operations still pending there are synced by a daemon or \`sync now\` run with --config ${before.configFile}.\n`);
  emit(opts, { written: file, home: path.dirname(file), previous_home: moved ? before.dir : null }, () => `wrote ${file}\nnext: ccm-sync enqueue ... and ccm-sync sync now (or ccm-sync start); \`ccm-sync where\` shows the home in use`);
}

/** `ccm-sync where`: which home, config and files this directory's commands use, and why. */
export async function whereCommand(opts: GlobalOptions): Promise<void> {
  const s = loadSettings({ configPath: opts.config });
  const p = s.paths;
  const entry = (file: string) => ({ path: file, exists: existsSync(file) });
  const out = {
    home: { ...entry(p.home), found_by: p.homeSource },
    config: entry(p.configFile),
    database: entry(p.db),
    jobs_database: entry(p.jobsDb),
    embedded_remote: s.remote.kind === 'embedded' ? entry(p.embedded) : null,
    remote: s.remote.kind,
    system_id: s.system.id,
    remote_token: tokenFacts(s),
    api_token: entry(p.tokenFile),
    config_cache: entry(p.cacheFile),
    skipped_homes: skippedHomes(p.homeSource),
  };
  const line = (label: string, e: { path: string; exists: boolean } | null, note = '') => (e ? `${label.padEnd(16)}${e.path}${e.exists ? '' : '  (not created yet)'}${note}` : '');
  emit(opts, out, () => [
    line('Home', out.home, `  (found by ${p.homeSource})`),
    line('Config', out.config, out.config.exists ? '' : '; every key has its default'),
    line('Database', out.database),
    line('Jobs database', out.jobs_database),
    line('Embedded remote', out.embedded_remote),
    `${'Remote'.padEnd(16)}${s.remote.kind} · system ${s.system.id}`,
    out.remote_token ? `${'Remote token'.padEnd(16)}${out.remote_token.source}${out.remote_token.expires_at ? `, expires ${out.remote_token.expires_at}` : ''}` : '',
    ...out.skipped_homes.map((why) => `${'Skipped'.padEnd(16)}${why}: not used`),
  ].filter(Boolean).join('\n'));
}

/** The .ccm-global folders the search passed over as untrusted (see untrustedHome). */
function skippedHomes(source: HomeSource): string[] {
  const skipped: string[] = [];
  if (source === 'nearest .ccm-global' || source === 'per-user default') nearestHome(process.cwd(), skipped);
  return skipped;
}

/** `ccm-sync config show`: the config in effect (file over mode preset over defaults), no secrets. */
export async function configShowCommand(opts: GlobalOptions): Promise<void> {
  const { paths, secrets: _secrets, ...config } = loadSettings({ configPath: opts.config });
  const { stringify } = await import('yaml');
  emit(opts, config, () => `# ${paths.configFile}${paths.configFound ? '' : ' (not created: defaults)'} over the ${config.sync.mode} preset\n${stringify(config).trimEnd()}`);
}

interface SchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
  enum?: unknown[];
  items?: SchemaNode;
}

/** Every config key with its type, default and meaning, from the schema. */
async function configEntries(): Promise<{ key: string; values: string; default: unknown; description: string }[]> {
  const { z } = await import('zod');
  const schema = z.toJSONSchema(configSchema, { io: 'input' }) as SchemaNode;
  const out: { key: string; values: string; default: unknown; description: string }[] = [];
  const walk = (node: SchemaNode, prefix: string) => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (child.properties) walk(child, name);
      else out.push({ key: name, values: child.enum ? child.enum.join(' | ') : '', default: child.default, description: child.description ?? '' });
    }
  };
  walk(schema, '');
  return out;
}

/** The README's configuration reference (between its `config:begin` and `config:end` markers). */
export async function configMarkdown(): Promise<string> {
  const cell = (t: string) => t.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const shown = (v: unknown) => (v === undefined ? '(none)' : `\`${JSON.stringify(v)}\``);
  const rows = (await configEntries()).map((e) => `| \`${e.key}\` | ${shown(e.default)} | ${cell(e.description)}${e.values ? ` (one of: ${e.values.split(' | ').join(', ')})` : ''} |`);
  return ['| key | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

export async function configReferenceCommand(opts: GlobalOptions & { markdown?: boolean }): Promise<void> {
  if (opts.markdown) {
    process.stdout.write(`${await configMarkdown()}\n`);
    return;
  }
  const entries = await configEntries();
  emit(opts, entries, () => entries.map((e) => `${e.key}${e.values ? ` (${e.values})` : ''}  default ${e.default === undefined ? '(none)' : JSON.stringify(e.default)}\n    ${e.description}`).join('\n'));
}
