/**
 * The ccm-sync command line: argv → options → the library. Each command's module is imported only
 * when that command runs, so `ccm-sync enqueue` (called by hooks once per event) loads nothing but
 * the config and SQLite.
 *
 * Exit codes: 0 success; 1 runtime failure (remote down, sync failed, alerts firing, verification
 * failed); 2 usage or config error (bad flag, bad config, bad input). Nothing is recorded when a
 * command fails with 2.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ENQUEUE_FLAGS } from './enqueue-flags.ts';
import { operatorCommands } from './program-ops.ts';
import { reportFailure, reportJsonUsage } from './exit.ts';
import { VERSION } from '../version.ts';
import type { GlobalOptions } from './output.ts';

const program = new Command('ccm-sync');

const HOME_HELP = `
The home (config, databases, embedded remote) is found like git finds a repository:
  1. --config FILE, or CCM_SYNC_CONFIG=FILE      the folder holding FILE
  2. CCM_SYNC_HOME=DIR                           DIR (config DIR/config.yaml)
  3. the nearest .ccm-global/ folder             at or above the working directory (yours, and not
                                                 in a folder every user can write, such as /tmp)
  4. ~/.ccm-global                               the per-user default
Commands that record create a missing home and say so on stderr; commands that look create nothing.`;

function positiveNumber(what: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive number`);
    return n;
  };
}

function positiveInt(what: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive whole number`);
    return n;
  };
}

/** Adds the options every command takes and returns the merged options at run time. */
function common(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config file (default: see `ccm-sync where --help`)')
    .option('--json', 'machine-readable JSON output');
}

function opts<T>(cmd: Command): T & GlobalOptions {
  return cmd.optsWithGlobals() as T & GlobalOptions;
}

program
  .description('Adaptive sync agent: records local work in a durable SQLite outbox and keeps a central Supabase project up to date.')
  .version(VERSION)
  // Also before the command (`ccm-sync --config FILE sync status`); after it, the command's own wins.
  .option('-c, --config <file>', 'config file, for every command (default: see `ccm-sync where --help`)')
  .option('--json', 'machine-readable JSON output, for every command that prints')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  .addHelpText('after', `
Pipeline: record → outbox → trigger → sync job → package → upload → settle.
Start here:
  ccm-sync init                      create a home: .ccm-global/config.yaml (embedded remote, no account needed)
  ccm-sync enqueue --op UPDATE --table tasks --id 123 --data '{"status":"complete"}'
  ccm-sync sync now                  sync everything pending (asks the daemon if one runs)
  ccm-sync start                     run the daemon: adaptive periodic, threshold and urgent syncs
  ccm-sync stop                      stop it
  ccm-sync tui                       live dashboard
Exit codes: 0 ok, 1 runtime failure, 2 usage/config/input error.
${HOME_HELP}`);

common(program.command('init'))
  .description('create a home: a commented starter config in .ccm-global/config.yaml here (or --user, CCM_SYNC_HOME, --config)')
  .option('--force', 'overwrite an existing file')
  .option('--user', 'create the per-user home ~/.ccm-global instead')
  .option('--system-id <id>', 'system id to put in the config')
  .action(async (_o, cmd: Command) => (await import('./commands/setup.ts')).initCommand(opts(cmd)));

common(program.command('where'))
  .description('which home, config and databases commands run here use, and how the home was found')
  .addHelpText('after', HOME_HELP)
  .action(async (_o, cmd: Command) => (await import('./commands/setup.ts')).whereCommand(opts(cmd)));

const enqueue = common(program.command('enqueue')).description('record operations in the outbox (one from flags, or NDJSON from stdin in one transaction)');
for (const f of ENQUEUE_FLAGS) {
  const o = new Option(`--${f.name}${f.type === 'string' ? ` <${f.value}>` : ''}`, f.description);
  if (f.choices) o.choices(f.choices);
  enqueue.addOption(o);
}
enqueue
  .addHelpText('after', `
Examples:
  ccm-sync enqueue --op UPDATE --table tasks --id 123 --data '{"status":"complete"}' --priority urgent
  printf '%s\\n' '{"operation":"INSERT","table_name":"hook_events","record_id":"e1","record_data":{"task_id":"t1","tool_name":"Bash","tool_input":{"command":"ls"}}}' | ccm-sync enqueue --stdin
Invalid input is rejected as a whole (exit 2) and names the line; nothing is recorded then.`)
  .action(async (_o, cmd: Command) => (await import('./commands/enqueue.ts')).enqueueCommand(opts(cmd)));
// Hooks call `ccm-sync enqueue` per event: main.ts routes it past commander (see enqueue-flags.ts).

const hook = program.command('hook').description('Claude Code hooks: record every event of the agent (install once, then nothing to do)')
  .addHelpText('after', `
ccm-sync hook install              add ccm-sync to ~/.claude/settings.json (every other hook is kept)
ccm-sync hook install --scope project --dry-run    show the change to .claude/settings.json
ccm-sync hook status               where it is installed, the last event, failures
Claude Code runs \`ccm-sync hook claude\` with each event's JSON on stdin; it always exits 0 and prints
nothing. Install registers the events the installed Claude Code knows (\`claude --version\`): an
event it does not know would make it warn. Summaries per task (tools, files, commands, errors,
tokens, cost, repository, permission waits) go to the remote; prompts, file contents and tool
output stay on this machine. See README: Use with Claude Code.`);
const scopeOption = () => new Option('--scope <scope>', 'settings file: user (~/.claude/settings.json), project (.claude/settings.json), local (.claude/settings.local.json)').choices(['user', 'project', 'local']).default('user');
common(hook.command('install'))
  .description('merge ccm-sync\'s hooks into a Claude Code settings file (idempotent; a backup is written first)')
  .addOption(scopeOption())
  .option('--dry-run', 'print the change without writing it')
  .option('--http', 'an http hook to the running daemon (no process per event; events are lost while the daemon is down)')
  .option('--dir <dir>', 'project folder for --scope project|local (default: here)')
  .option('--diff', 'print the settings file\'s change in full')
  .option('--claude-version <version>', 'install the events this Claude Code version knows (default: ask `claude --version`)')
  .action(async (_o, cmd: Command) => (await import('./commands/hook.ts')).hookInstallCommand(opts(cmd)));
common(hook.command('uninstall'))
  .description('remove ccm-sync\'s hooks from a Claude Code settings file, and nothing else')
  .addOption(scopeOption())
  .option('--dry-run', 'print the change without writing it')
  .option('--dir <dir>', 'project folder for --scope project|local (default: here)')
  .action(async (_o, cmd: Command) => (await import('./commands/hook.ts')).hookUninstallCommand(opts(cmd)));
common(hook.command('status'))
  .description('where the hook is installed, when the last event arrived, what is spooled or failed')
  .option('--dir <dir>', 'project folder whose .claude/ to look in (default: here)')
  .action(async (_o, cmd: Command) => (await import('./commands/hook.ts')).hookStatusCommand(opts(cmd)));
hook.command('claude')
  .description('record one Claude Code hook payload from stdin (what the installed hook runs; always exits 0)')
  .action(async () => (await import('../hooks/run.ts')).runClaudeHook());

const sync = program.command('sync').description('run, inspect and repair syncs');
common(sync.command('now'))
  .description('sync everything pending now; asks a running daemon, else syncs in this process')
  .action(async (_o, cmd: Command) => (await import('./commands/sync.ts')).syncNowCommand(opts(cmd)));
common(sync.command('drain'))
  .description('sync in batches until nothing eligible is pending, with a progress bar on a TTY')
  .option('--batch-size <n>', 'operations per request (default sync.max_ops_per_request)', positiveInt('--batch-size'))
  .action(async (_o, cmd: Command) => (await import('./commands/sync.ts')).syncDrainCommand(opts(cmd)));
common(sync.command('status'))
  .description('pending operations, last and next sync, connection state, alerts')
  .action(async (_o, cmd: Command) => (await import('./commands/sync.ts')).syncStatusCommand(opts(cmd)));
common(sync.command('health'))
  .description('per-day table: Date | Syncs | Operations | Avg Duration | Failures, newest first')
  .option('--days <n>', 'how many days back', positiveInt('--days'), 7)
  .action(async (_o, cmd: Command) => (await import('./commands/sync.ts')).syncHealthCommand(opts(cmd)));
common(sync.command('takeover'))
  .description('take this machine\'s system id over from the other installation the remote names (after a reinstall, or when this machine replaces that one); syncs refuse to upload while another installation holds the id')
  .action(async (_o, cmd: Command) => (await import('./commands/takeover.ts')).syncTakeoverCommand(opts(cmd)));
common(sync.command('retry-failed'))
  .description('move every failed operation back to pending with a fresh retry budget (same as `failed retry --all`)')
  .action(async (_o, cmd: Command) => (await import('./commands/failed.ts')).failedRetryCommand([], { ...opts(cmd), all: true }));

const failed = program.command('failed').description('dead letters: operations the remote refused for good, or that could not be packaged')
  .addHelpText('after', `
A failed operation is never sent again by itself. Look at why (list, show), fix the cause, then
retry it, or discard it (it stays in the outbox as 'discarded', with who and when).`);
common(failed.command('list'))
  .description('failed operations, newest first, with the distinct reasons and how many share each')
  .option('--discarded', 'list discarded operations instead')
  .option('--limit <n>', 'how many to list', positiveInt('--limit'), 50)
  .action(async (_o, cmd: Command) => (await import('./commands/failed.ts')).failedListCommand(opts(cmd)));
common(failed.command('show'))
  .description('one failed or discarded operation: its whole reason and record_data')
  .argument('<id>', 'outbox id (from `failed list`) or op_id')
  .action(async (id: string, _o, cmd: Command) => (await import('./commands/failed.ts')).failedShowCommand(id, opts(cmd)));
common(failed.command('retry'))
  .description('send failed operations again (with a fresh retry budget); warns when they would fail the same way')
  .argument('[ids...]', 'outbox ids or op_ids')
  .option('--all', 'every failed operation')
  .action(async (ids: string[], _o, cmd: Command) => (await import('./commands/failed.ts')).failedRetryCommand(ids, opts(cmd)));
common(failed.command('discard'))
  .description('give up on failed operations; they stay in the outbox as discarded, with who and when')
  .argument('<ids...>', 'outbox ids or op_ids')
  .option('--yes', 'confirm')
  .option('--by <name>', 'who discards (default: user@host)')
  .action(async (ids: string[], _o, cmd: Command) => (await import('./commands/failed.ts')).failedDiscardCommand(ids, opts(cmd)));

common(program.command('tables'))
  .description('the synced tables: columns and types, key, packaging, local copies (the record_data contract)')
  .option('--markdown', 'print the README\'s table reference')
  .action(async (_o, cmd: Command) => (await import('./commands/tables.ts')).tablesCommand(opts(cmd)));

common(program.command('start'))
  .description('run the daemon (job runner, worker thread, triggers, local API) until SIGINT/SIGTERM')
  .option('--secrets-file <file>', 'read KEY=value lines into the environment first (the service\'s secrets: `service install` writes one, 0600)')
  // The name units written by earlier versions use. Node itself reads --env-file wherever it stands in
  // the command line, and exits 9 when the file is missing, before ccm-sync runs.
  .addOption(new Option('--env-file <file>').hideHelp())
  .action(async (_o, cmd: Command) => (await import('./commands/daemon.ts')).startCommand(opts(cmd)));

operatorCommands(program, { common, opts, positiveNumber });

common(program.command('stop'))
  .description('stop this home\'s daemon (SIGTERM: it finishes the sync in progress, then exits)')
  .option('--timeout <seconds>', 'how long to wait for it to exit', positiveInt('--timeout'), 60)
  .action(async (_o, cmd: Command) => (await import('./commands/daemon.ts')).stopCommand(opts(cmd)));

common(program.command('tui'))
  .description('live dashboard (Ink); keys: s sync, d drain, p pause, o offline, r retry failed, ? help, q quit')
  .option('--once', 'print one plain snapshot and exit (also when stdout is not a TTY)')
  .action(async (_o, cmd: Command) => (await import('./commands/daemon.ts')).tuiCommand(opts(cmd)));

common(program.command('alerts'))
  .description('print firing alerts; exits 1 while any fire (for cron and monitoring)')
  .action(async (_o, cmd: Command) => (await import('./commands/review.ts')).alertsCommand(opts(cmd)));

const conflicts = program.command('conflicts').description('review operations held by manual conflict review');
common(conflicts.command('list'))
  .description('show local and remote versions side by side')
  .action(async (_o, cmd: Command) => (await import('./commands/review.ts')).conflictsListCommand(opts(cmd)));
common(conflicts.command('resolve'))
  .description('settle one conflict: --keep local forces the local version up; --keep remote drops it and refreshes the local copy')
  .argument('<id>', 'conflict id (outbox id or op_id) from `conflicts list`')
  .addOption(new Option('--keep <side>', 'which version wins').choices(['local', 'remote']).makeOptionMandatory())
  .action(async (id: string, _o, cmd: Command) => (await import('./commands/review.ts')).conflictsResolveCommand(id, opts(cmd)));

const remote = program.command('remote').description('the remote database');
common(remote.command('migrate'))
  .description('apply the bootstrap and supabase/migrations to a postgres or embedded remote')
  .action(async (_o, cmd: Command) => (await import('./commands/remote.ts')).migrateCommand(opts(cmd)));
common(remote.command('query'))
  .description('run one read-only SQL statement on the embedded or postgres remote and print the rows (see what arrived)')
  .argument('<sql>', 'one statement, e.g. "select id, status from tasks order by updated_at desc limit 10"')
  .option('--timeout <seconds>', 'statement timeout', positiveInt('--timeout'), 30)
  .addHelpText('after', `
The statement runs in a read-only transaction, as the remote's owner (embedded) or as the user in
CCM_SYNC_DATABASE_URL (postgres). On Supabase, use the project's SQL editor instead.
Examples:
  ccm-sync remote query "select id, status, sync_version from tasks order by updated_at desc limit 5"
  ccm-sync remote query --json "select system_id, last_seen_at from ccm_sync_systems"`)
  .action(async (sql: string, _o, cmd: Command) => (await import('./commands/remote.ts')).remoteQueryCommand(sql, opts(cmd)));
common(remote.command('sql'))
  .description('print the remote migrations as one script (for the Supabase SQL editor), rendered for remote.schema')
  .option('--schema <name>', 'schema to put the tables and functions in (default: remote.schema)')
  .action(async (_o, cmd: Command) => (await import('./commands/remote.ts')).remoteSqlCommand(opts(cmd)));
common(remote.command('token'))
  .description("mint a system's JWT (role and aud authenticated, sub, system_id, iat, exp), signed ES256 with the project's signing key or HS256 with its legacy JWT secret")
  .option('--key <file>', 'private signing key (JWK, a JWK array or {keys}): from `remote keys new` or `supabase gen signing-key --algorithm ES256`')
  .option('--kid <kid>', 'which key of --key to use, when it holds several')
  .option('--system-id <id>', 'system id (default: system.id from the config)')
  .option('--secret-env <var>', 'without --key: environment variable holding the legacy JWT secret (HS256)', 'SUPABASE_JWT_SECRET')
  .option('--expires <span>', 'lifetime, e.g. 90d', '365d')
  .addHelpText('after', `
The token is printed on stdout and nowhere else. Give it to the machine as CCM_SYNC_ACCESS_TOKEN,
or in the file that remote.access_token_file names (read again whenever it changes).
Examples:
  ccm-sync remote token --key ~/keys/ccm-es256.json --system-id build-01 --expires 90d > /etc/ccm/token
  SUPABASE_JWT_SECRET=… ccm-sync remote token --system-id laptop-7   (a project on the legacy secret)`)
  .action(async (_o, cmd: Command) => (await import('./commands/remote-keys.ts')).tokenCommand(opts(cmd)));
const keys = remote.command('keys').description("the project's JWT signing keys, made here");
common(keys.command('new'))
  .description('create an ES256 signing key to import into the project (JWT Keys), and print its public key set')
  .requiredOption('--out <file>', 'where to write the private key (0600; never overwritten)')
  .action(async (_o, cmd: Command) => (await import('./commands/remote-keys.ts')).keysNewCommand(opts(cmd)));

const config = program.command('config').description('configuration');
common(config.command('reference'))
  .description('every config key with its default and meaning')
  .option('--markdown', 'print the README\'s configuration reference')
  .action(async (_o, cmd: Command) => (await import('./commands/setup.ts')).configReferenceCommand(opts(cmd)));

common(config.command('show'))
  .description('the configuration in effect: the config file over its mode preset over the defaults (no secrets)')
  .action(async (_o, cmd: Command) => (await import('./commands/setup.ts')).configShowCommand(opts(cmd)));

const test = program.command('test').description('self-tests');
common(test.command('offline'))
  .description('simulate an offline window on the running daemon, then verify every operation queued in it reached the remote')
  .requiredOption('--duration <span>', 'how long to stay offline: e.g. 30s, 30m, 1h')
  .option('--workload <n>', 'operations to generate during the window (default: one a second, at least 20)', positiveInt('--workload'))
  .option('--timeout <span>', 'how long to wait for the drain afterwards', '10m')
  .action(async (_o, cmd: Command) => (await import('./commands/offline.ts')).testOfflineCommand(opts(cmd)));

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
      process.exitCode = ok ? 0 : 2;
      if (!ok && json) reportJsonUsage(err.message);
      return;
    }
    reportFailure(err, { json });
  }
}

await main();
