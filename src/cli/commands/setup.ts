/** `ccm-sync init`, `ccm-sync remote migrate|token` and `ccm-sync config reference`. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, InputError } from '../../errors.ts';
import { DEFAULT_CONFIG_PATH, loadSettings } from '../../config/load.ts';
import { configSchema } from '../../config/schema.ts';
import { emit, type GlobalOptions } from '../output.ts';

const STARTER = new URL('../../../config/starter.yaml', import.meta.url);

export async function initCommand(opts: GlobalOptions & { force?: boolean; systemId?: string }): Promise<void> {
  const file = path.resolve(opts.config ?? process.env.CCM_SYNC_CONFIG ?? DEFAULT_CONFIG_PATH);
  if (existsSync(file) && !opts.force) throw new InputError(`${file} already exists; pass --force to overwrite it`);
  mkdirSync(path.dirname(file), { recursive: true });
  let text = readFileSync(STARTER, 'utf8');
  if (opts.systemId) text = text.replace('id: my-workstation', `id: ${opts.systemId}`);
  writeFileSync(file, text);
  loadSettings({ configPath: file }); // the starter must itself be valid
  emit(opts, { written: file }, () => `wrote ${file}\nnext: ccm-sync enqueue ... and ccm-sync sync now (or ccm-sync start)`);
}

export async function migrateCommand(opts: GlobalOptions): Promise<void> {
  const settings = loadSettings({ configPath: opts.config });
  const { migrateRemote } = await import('../../remote/migrations.ts');
  if (settings.remote.kind === 'supabase') {
    throw new ConfigError('remote.kind is supabase: apply supabase/migrations/*.sql to the project (SQL editor, or `supabase db push`); ccm-sync never holds a Supabase admin credential');
  }
  let applied: string[];
  if (settings.remote.kind === 'postgres') {
    if (!settings.secrets.databaseUrl) throw new ConfigError('remote.kind is postgres but CCM_SYNC_DATABASE_URL is not set');
    const { PostgresTransport } = await import('../../remote/postgres.ts');
    const t = new PostgresTransport({ connectionString: settings.secrets.databaseUrl, systemId: settings.system.id, timeoutMs: settings.sync.request_timeout_ms, schema: settings.remote.schema });
    try {
      applied = await migrateRemote(t, { schema: settings.remote.schema });
    } finally {
      await t.close();
    }
  } else {
    const { EmbeddedTransport } = await import('../../remote/embedded.ts');
    const t = await EmbeddedTransport.open(settings.paths.embedded, settings.system.id, settings.remote.schema); // migrates on open
    applied = ['(embedded remote is migrated on open)'];
    await t.close();
  }
  emit(opts, { remote: settings.remote.kind, applied }, () => (applied.length ? `applied: ${applied.join(', ')}` : 'remote schema is up to date'));
}

/**
 * `ccm-sync remote sql [--schema name]`: the migrations as one script for a Supabase SQL editor,
 * rendered for the schema (remote.schema by default). ccm-sync never holds a Supabase admin
 * credential, so applying them there is a person's step.
 */
export async function remoteSqlCommand(opts: GlobalOptions & { schema?: string }): Promise<void> {
  const { checkSchemaName, migrationFiles, schemaPrelude } = await import('../../remote/migrations.ts');
  const schema = checkSchemaName(opts.schema ?? loadSettings({ configPath: opts.config }).remote.schema);
  const files = migrationFiles(schema);
  if (opts.json) {
    emit(opts, { schema, files: files.map((f) => ({ version: f.version, sql: f.sql })) }, () => '');
    return;
  }
  const parts = [`-- ccm-sync ${files.length} migration(s) for schema ${schema}; apply in this order, once each.`, schemaPrelude(schema)];
  for (const f of files) parts.push(`-- ==== ${f.version} ====`, f.sql);
  process.stdout.write(`${parts.filter(Boolean).join('\n')}\n`);
}

export async function tokenCommand(opts: GlobalOptions & { systemId?: string; secretEnv: string; expires: string }): Promise<void> {
  const secret = process.env[opts.secretEnv];
  if (!secret || secret.length < 32) throw new ConfigError(`${opts.secretEnv} must hold the project's JWT secret (32+ characters); find it in Supabase under Settings → API → JWT secret`);
  const systemId = opts.systemId ?? loadSettings({ configPath: opts.config }).system.id;
  const { SignJWT } = await import('jose');
  const token = await new SignJWT({ role: 'authenticated', system_id: systemId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setSubject(`ccm-sync:${systemId}`)
    .setExpirationTime(opts.expires)
    .sign(new TextEncoder().encode(secret));
  // The token itself is the output: it is printed raw, on purpose, and never logged.
  process.stdout.write(opts.json ? `${JSON.stringify({ system_id: systemId, token })}\n` : `${token}\n`);
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
  const rows = (await configEntries()).map((e) => `| \`${e.key}\` | \`${JSON.stringify(e.default)}\` | ${cell(e.description)}${e.values ? ` (one of: ${e.values.split(' | ').join(', ')})` : ''} |`);
  return ['| key | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

export async function configReferenceCommand(opts: GlobalOptions & { markdown?: boolean }): Promise<void> {
  if (opts.markdown) {
    process.stdout.write(`${await configMarkdown()}\n`);
    return;
  }
  const entries = await configEntries();
  emit(opts, entries, () => entries.map((e) => `${e.key}${e.values ? ` (${e.values})` : ''}  default ${JSON.stringify(e.default)}\n    ${e.description}`).join('\n'));
}
