/** `ccm-sync fleet [--json] [--alerts]`: every system feeding the remote, as each last reported. */
import { loadSettings } from '../../config/load.ts';
import { fleetView, type FleetSystem } from '../../monitor/fleet.ts';
import { readFleet } from '../../remote/fleet.ts';
import { ago, emit, table, type GlobalOptions } from '../output.ts';

function state(x: FleetSystem): string {
  return x.stale ? 'STALE' : x.failing ? 'FAILING' : 'ok';
}

export async function fleetCommand(opts: GlobalOptions & { alerts?: boolean; staleMinutes?: number }): Promise<void> {
  const settings = loadSettings({ configPath: opts.config });
  const view = fleetView(await readFleet(settings), Date.now(), opts.staleMinutes ?? settings.monitoring.fleet_stale_minutes);
  const shown = opts.alerts ? view.systems.filter((x) => x.stale || x.failing) : view.systems;
  const t = view.totals;
  emit(opts, { ...view, systems: shown }, () => [
    `${t.systems} system${t.systems === 1 ? '' : 's'} · ${t.stale} stale (silent over ${view.stale_after_minutes} min) · ${t.failing} failing · backlog ${t.backlog} · dead letters ${t.failed}`,
    shown.length === 0 ? (opts.alerts ? 'every system is reporting and healthy' : 'no system has synced to this remote yet') : table(
      ['System', 'Type', 'Version', 'Last seen', 'Last sync', 'Backlog', 'Failed', 'Connection', 'Alerts', 'State'],
      shown.map((x) => [x.system_id, x.type ?? '-', x.version ?? '-', ago(x.last_seen_at), ago(x.last_sync_at), x.backlog ?? '-', x.failed ?? '-', x.connection ?? '-', x.alerts.join(', ') || '-', state(x)]),
    ),
    ...(opts.alerts ? shown.map((x) => `${x.system_id}: ${x.problems.join('; ')}`) : []),
  ].join('\n'));
  if (opts.alerts && shown.length > 0) process.exitCode = 1;
}
