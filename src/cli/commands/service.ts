/** `ccm-sync service install|uninstall|status`: the daemon as a systemd or launchd service (service/). */
import { loadSettings } from '../../config/load.ts';
import { removeService, runAll, serviceFiles, unitState, writeService, type Scope, type ServiceFiles } from '../../service/install.ts';
import { emit, type GlobalOptions } from '../output.ts';
import { lookLocal } from '../with-local.ts';
import { processAlive } from '../../monitor/status.ts';
import { messageOf } from '../../errors.ts';

export interface ServiceOptions extends GlobalOptions {
  system?: boolean;
  dryRun?: boolean;
  name?: string;
  /** false (--no-start): write or remove the files without asking systemctl or launchctl. */
  start?: boolean;
}

const scope = (o: ServiceOptions): Scope => (o.system ? 'system' : 'user');
const cmdLine = (c: string[]) => c.join(' ');

function files(o: ServiceOptions): ServiceFiles {
  return serviceFiles(loadSettings({ configPath: o.config }), { scope: scope(o), name: o.name });
}

/** What the service's daemon would refuse to start for: the remote's variables, as exported here. */
async function secretsProblem(o: ServiceOptions): Promise<string | undefined> {
  const { checkRemoteSecrets } = await import('../../remote/index.ts');
  try {
    checkRemoteSecrets(loadSettings({ configPath: o.config }));
    return undefined;
  } catch (err) {
    return `${messageOf(err)}. The service's daemon will not start without it: export it here and run \`ccm-sync service install\` again (it is written to the service's secrets file), or add it to that file and restart the service`;
  }
}

/** Where systemctl --user cannot be reached, what makes it reachable. */
function userSessionHint(f: ServiceFiles): string {
  if (f.platform !== 'systemd' || f.scope !== 'user') return '';
  return `\nA user unit needs a user session of systemd: log in once (or run \`loginctl enable-linger ${process.env.USER ?? '$USER'}\` so it starts at boot without one), or install a system unit with --system.`;
}

export async function serviceInstallCommand(o: ServiceOptions): Promise<void> {
  const f = files(o);
  const problem = await secretsProblem(o);
  const plan = { platform: f.platform, scope: f.scope, unit: f.unit.path, env_file: f.env.path, env_keys: f.env.keys, start: f.start.map(cmdLine), ...(problem ? { warnings: [problem] } : {}) };
  const warning = problem ? [`warning: ${problem}`] : [];
  if (o.dryRun) {
    emit(o, { ...plan, dry_run: true, unit_text: f.unit.text }, () => [`# ${f.unit.path}\n${f.unit.text}\n# ${f.env.path} (0600): ${f.env.keys.join(', ') || 'no secrets set in this environment'}\n# then: ${f.start.map(cmdLine).join(' && ')}\n(dry run: nothing written)`, ...warning].join('\n'));
    return;
  }
  writeService(f);
  const failed = o.start === false ? 'not asked (--no-start)' : runAll(f.start);
  emit(o, { ...plan, started: failed === undefined, ...(failed ? { not_started: failed } : {}) }, () => [
    `wrote ${f.unit.path}`,
    `wrote ${f.env.path} (0600): ${f.env.keys.length ? f.env.keys.join(', ') : 'no remote secrets were set here; add them there, then restart the service'}`,
    failed === undefined ? `started: ${f.start.map(cmdLine).join(' && ')}` : `not started (${failed}). Start it with:\n  ${f.start.map(cmdLine).join('\n  ')}${userSessionHint(f)}`,
    ...warning,
  ].join('\n'));
}

export async function serviceUninstallCommand(o: ServiceOptions): Promise<void> {
  const f = files(o);
  const failed = o.start === false || o.dryRun ? undefined : runAll(f.stop);
  const gone = o.dryRun ? [] : removeService(f);
  emit(o, { removed: gone, dry_run: Boolean(o.dryRun), ...(failed ? { not_stopped: failed } : {}) }, () => [
    gone.length ? `removed ${gone.join(', ')}` : o.dryRun ? `would stop ${f.unit.path} and remove it and ${f.env.path} (only if ccm-sync wrote them)` : `nothing of ccm-sync's at ${f.unit.path}`,
    ...(failed ? [`could not stop it (${failed}); run: ${f.stop.map(cmdLine).join(' && ')}`] : []),
  ].join('\n'));
}

export async function serviceStatusCommand(o: ServiceOptions): Promise<void> {
  const f = files(o);
  await lookLocal(o, async (_settings, local) => {
    const d = local.state.get('daemon');
    const daemon = d && processAlive(d.pid) ? d : null;
    const { existsSync } = await import('node:fs');
    const installed = existsSync(f.unit.path);
    const unit = installed ? unitState(f) : { unknown: 'not installed' };
    emit(o, { unit: f.unit.path, installed, state: unit, daemon }, () => [
      `${f.platform} ${f.scope} unit ${f.unit.path}: ${installed ? ('unknown' in unit ? `installed (${unit.unknown})` : `${unit.ActiveState}/${unit.SubState}, ${unit.UnitFileState}, restarts ${unit.NRestarts ?? '0'}`) : 'not installed: ccm-sync service install'}`,
      `daemon: ${daemon ? `running (pid ${daemon.pid}, API on 127.0.0.1:${daemon.port})` : 'not running'}`,
    ].join('\n'));
  });
}
