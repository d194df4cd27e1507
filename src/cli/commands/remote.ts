/** `ccm-sync remote migrate|sql|query|token`: the remote database, seen and prepared from here. */
import { accessSync, constants, existsSync } from 'node:fs';
import { ConfigError, DaemonUnreachableError, InputError, messageOf } from '../../errors.ts';
import { answerRows } from '../../remote/query-answer.ts';
import type { QueryAnswer } from '../../remote/transport.ts';
import { loadSettings, type Settings } from '../../config/load.ts';
import { emit, table, type GlobalOptions } from '../output.ts';

function refuseSupabase(settings: Settings, what: string): void {
  if (settings.remote.kind === 'supabase') throw new ConfigError(what);
}

export async function migrateCommand(opts: GlobalOptions): Promise<void> {
  const settings = loadSettings({ configPath: opts.config });
  refuseSupabase(settings, 'remote.kind is supabase: apply supabase/migrations/*.sql to the project (SQL editor, or `supabase db push`); ccm-sync never holds a Supabase admin credential');
  const [{ openTransport }, { migrateRemote }, { PostgresTransport }] = await Promise.all([
    import('../../remote/index.ts'), import('../../remote/migrations.ts'), import('../../remote/postgres.ts'),
  ]);
  if (settings.remote.kind === 'embedded' && await heldByDaemon(settings, opts)) return;
  const t = await openTransport(settings); // the embedded remote migrates itself on open
  let applied: string[];
  try {
    applied = t instanceof PostgresTransport ? await migrateRemote(t, { schema: settings.remote.schema }) : ['(embedded remote is migrated on open)'];
  } finally {
    await t.close();
  }
  emit(opts, { remote: settings.remote.kind, applied }, () => (applied.length ? `applied: ${applied.join(', ')}` : 'remote schema is up to date'));
}

/**
 * The embedded remote is migrated by the process that opens it: while this home's daemon holds
 * it, say which schema the daemon's copy speaks (and how to bring it up to date) instead.
 */
async function heldByDaemon(settings: Settings, opts: GlobalOptions): Promise<boolean> {
  const [{ embeddedHolder }, { openOwnerReader, schemaOf }, { NEWEST_REMOTE_SCHEMA }] = await Promise.all([
    import('../../remote/embedded.ts'), import('../../remote/reader.ts'), import('../../remote/transport.ts'),
  ]);
  if (embeddedHolder(settings.paths.embedded) === undefined) return false;
  const reader = await openOwnerReader(settings);
  try {
    if (!reader.viaDaemon) return false;
    const schema = await schemaOf(reader, settings);
    if (schema < NEWEST_REMOTE_SCHEMA) {
      throw new ConfigError(`the embedded remote is open in the running daemon (pid ${reader.viaDaemon}), which has it at schema ${schema}, older than this ccm-sync's ${NEWEST_REMOTE_SCHEMA}: restart the daemon (\`ccm-sync stop\`, then \`ccm-sync start\`; as a service, \`systemctl --user restart ccm-sync\`); it migrates the embedded remote when it opens it`);
    }
    emit(opts, { remote: 'embedded', applied: [], schema, via_daemon: reader.viaDaemon }, () => `remote schema is up to date (schema ${schema}; the embedded remote is open in the running daemon, pid ${reader.viaDaemon}, which migrated it when it opened it)`);
    return true;
  } finally {
    await reader.close();
  }
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
  const parts = [
    `-- ccm-sync ${files.length} migration(s) for schema ${schema}; apply in this order, once each.`,
    '-- Each file is as it shipped, and later files replace functions of earlier ones (batch_sync, for one,',
    '-- is security definer since 20261126000000, whatever the first file\'s header says). To read the schema',
    '-- as it stands, read supabase/schema.sql (generated from these files) instead.',
    schemaPrelude(schema),
  ];
  for (const f of files) parts.push(`-- ==== ${f.version} ====`, f.sql);
  process.stdout.write(`${parts.filter(Boolean).join('\n')}\n`);
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (v instanceof Date) return v.toISOString();
  const text = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

/** `ccm-sync remote query "select …"`: one read-only statement on the embedded or postgres remote. */
export async function remoteQueryCommand(sql: string, opts: GlobalOptions & { timeout: number }): Promise<void> {
  if (!sql.trim()) throw new InputError('remote query needs a statement, e.g. ccm-sync remote query "select id, status from tasks limit 10"');
  const settings = loadSettings({ configPath: opts.config });
  refuseSupabase(settings, 'remote query works on the embedded and postgres remotes; on Supabase, use the SQL editor or the Table editor of the project');
  const daemonAnswer = settings.remote.kind === 'embedded' ? await viaDaemon(settings, sql, opts.timeout * 1000) : undefined;
  if (!daemonAnswer && settings.remote.kind === 'embedded') checkEmbeddedReadable(settings.paths.embedded);
  if (!daemonAnswer && settings.remote.kind === 'embedded' && !existsSync(`${settings.paths.embedded}/PG_VERSION`)) {
    throw new InputError(`there is no embedded remote at ${settings.paths.embedded} yet: nothing has been synced from this home (${settings.paths.home}); run \`ccm-sync sync now\` first`);
  }
  const answer = daemonAnswer ?? await directly(settings, sql, opts.timeout * 1000).catch((err: unknown) => {
    // With remote.schema set, the synced tables are not on the search path.
    const missing = /relation "([^".]+)" does not exist/.exec(messageOf(err))?.[1];
    if (missing && settings.remote.schema !== 'public' && InputError.is(err)) {
      throw new InputError(`${messageOf(err)}; the synced tables are in schema ${settings.remote.schema} (remote.schema): write ${settings.remote.schema}.${missing}`);
    }
    throw err;
  });
  emit(opts, { columns: answer.columns, rows: answerRows(answer) }, () =>
    `${table(answer.columns, answer.rows.map((r) => r.map(cell)))}\n(${answer.rows.length} row${answer.rows.length === 1 ? '' : 's'})`);
}

/** PGlite writes as it reads: a folder this user may not write cannot be opened, and says so. */
function checkEmbeddedReadable(dir: string): void {
  if (!existsSync(dir)) return;
  try {
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch {
    throw new ConfigError(`the embedded remote ${dir} cannot be opened from here: its folder is read-only to this user (EACCES), and PGlite writes as it reads. Run this as the home's owner, or with its daemon running (it answers \`remote query\` for it)`);
  }
}

/** The embedded remote is one process's at a time: with this home's daemon running, it answers. */
async function viaDaemon(settings: Settings, sql: string, timeoutMs: number): Promise<QueryAnswer | undefined> {
  const [{ findDaemon }, { openToLook }] = await Promise.all([import('../../daemon/client.ts'), import('../with-local.ts')]);
  const local = openToLook(settings);
  try {
    const daemon = findDaemon(settings, local.state);
    if (!daemon) return undefined;
    try {
      return await daemon.call<QueryAnswer>('POST', '/api/remote/query', { sql, timeout_ms: timeoutMs }, timeoutMs + 10_000);
    } catch (err) {
      if (DaemonUnreachableError.is(err)) return undefined;
      throw err;
    }
  } finally {
    local.close();
  }
}

async function directly(settings: Settings, sql: string, timeoutMs: number): Promise<QueryAnswer> {
  const { openTransport } = await import('../../remote/index.ts');
  const t = await openTransport(settings);
  try {
    if (!t.readOnly) throw new ConfigError(`remote query does not work on the ${t.kind} remote`);
    return await t.readOnly(sql, timeoutMs);
  } finally {
    await t.close();
  }
}
