/**
 * The commands an operator runs about the machine and the fleet, not about one sync: `service`,
 * `fleet`, `doctor` and `report` (registered by program.ts; each module loaded when it runs).
 */
import type { Command } from 'commander';
import type { GlobalOptions } from './output.ts';

export interface ProgramHelpers {
  common(cmd: Command): Command;
  opts<T>(cmd: Command): T & GlobalOptions;
  positiveNumber(what: string): (v: string) => number;
}

// The body is not indented: its help texts are template literals, printed exactly as written.
export function operatorCommands(program: Command, { common, opts, positiveNumber }: ProgramHelpers): void {
const service = program.command('service').description('run the daemon as a service that starts at boot: a systemd unit (Linux) or a launchd agent (macOS)')
  .addHelpText('after', `
ccm-sync service install              a user unit (~/.config/systemd/user/ccm-sync.service), enabled and started
ccm-sync service install --system     a system unit (/etc/systemd/system), run as the home's owner
ccm-sync service install --dry-run    print the files, write nothing
ccm-sync service status               the unit's state and the daemon's own
ccm-sync service uninstall            stop it and remove what install wrote, and only that
The remote's secrets set in this environment (CCM_SYNC_DATABASE_URL, SUPABASE_URL, SUPABASE_PUBLISHABLE_KEY,
CCM_SYNC_ACCESS_TOKEN, CCM_SYNC_PATH_SALT) go into <home>/service.env (0600), never into the unit.
The daemon's logs go to the journal (journalctl --user -u ccm-sync) as JSON lines.`);
const serviceCommon = (c: Command) => common(c)
  .option('--system', 'a system unit instead of a user unit (needs root)')
  .option('--name <name>', 'the unit\'s name (default ccm-sync), for a second home on one machine')
  .option('--no-start', 'write or remove the files without asking systemctl or launchctl');
serviceCommon(service.command('install')).description('write the service and start it (enable --now)').option('--dry-run', 'print the files and do nothing')
  .action(async (_o, cmd: Command) => (await import('./commands/service.ts')).serviceInstallCommand(opts(cmd)));
serviceCommon(service.command('uninstall')).description('stop the service and remove what install wrote').option('--dry-run', 'say what would go')
  .action(async (_o, cmd: Command) => (await import('./commands/service.ts')).serviceUninstallCommand(opts(cmd)));
serviceCommon(service.command('status')).description('the unit\'s state and the daemon\'s')
  .action(async (_o, cmd: Command) => (await import('./commands/service.ts')).serviceStatusCommand(opts(cmd)));

common(program.command('fleet'))
  .description('every system feeding the remote: type, version, last seen and synced, backlog, failures, connection, alerts')
  .option('--alerts', 'list only stale or failing systems, and exit 1 while there are any (for cron and monitoring)')
  .option('--stale-minutes <n>', 'silent this long counts as stale (default monitoring.fleet_stale_minutes)', positiveNumber('--stale-minutes'))
  .addHelpText('after', `
Reads the remote's ccm_sync_systems, which each system updates with every sync and at least every
monitoring.heartbeat_minutes. It needs to read every system's row: the user of CCM_SYNC_DATABASE_URL
(postgres), SUPABASE_URL with SUPABASE_SECRET_KEY (supabase; run it where that key may live,
never on the fleet's machines), or the embedded remote (this machine only).`)
  .action(async (_o, cmd: Command) => (await import('./commands/fleet.ts')).fleetCommand(opts(cmd)));

common(program.command('doctor'))
  .description('check everything an operator would by hand: the machine, the databases, the daemon and its service, the remote, the hooks, the sync; each ok, warn or fail with the fix')
  .option('--dir <dir>', 'project folder whose Claude Code settings to check (default: here)')
  .option('--no-remote', 'skip the remote\'s checks (no network)')
  .addHelpText('after', `
Exits 1 when a check fails (warnings alone exit 0), so it can gate a deployment or a cron job.
--json gives every check as {area, name, level, detail, fix}.`)
  .action(async (_o, cmd: Command) => (await import('./commands/doctor.ts')).doctorCommand(opts(cmd)));

common(program.command('report'))
  .description('what the fleet\'s coding-agent tasks cost: tasks, failure rate, requests, tokens, cost and permission wait, by system, repository, branch, model or day')
  .option('--by <what>', 'system, repo, branch, model or day', 'system')
  .option('--since <when>', 'tasks that began since: a span (7d, 12h, 30m) or a date (2026-11-01)', '7d')
  .addHelpText('after', `
The figures are exact sums of the task summaries on the remote (cost in dollars, estimated from
config/pricing.yaml; by model, each model's share of a task). Like \`fleet\`, it reads every system:
the user of CCM_SYNC_DATABASE_URL (postgres), SUPABASE_URL with SUPABASE_SECRET_KEY (supabase), or
the embedded remote.`)
  .action(async (_o, cmd: Command) => (await import('./commands/report.ts')).reportCommand(opts(cmd)));
}
