/**
 * Where the dashboard's fleet view comes from: the remote's ccm_sync_systems, read every 30 s
 * (not every second: it is a network round trip, and systems report at most once per batch).
 */
import { fleetView, type FleetView } from '../monitor/fleet.ts';
import { readFleet } from '../remote/fleet.ts';
import { readTaskSummaries } from '../remote/report.ts';
import { buildReport } from '../monitor/report.ts';
import { messageOf } from '../errors.ts';
import { redact } from '../redact.ts';
import type { Settings } from '../config/load.ts';

export const FLEET_REFRESH_MS = 30_000;

export type FleetState = FleetView | { unavailable: string } | undefined;

/** Why this dashboard cannot show the fleet, or undefined when it can. */
export function fleetUnavailable(settings: Settings): string | undefined {
  if (settings.remote.kind === 'embedded') return 'The embedded remote holds this machine only; the fleet view needs a shared postgres or supabase remote.';
  if (settings.remote.kind === 'supabase' && !settings.secrets.secretKey) {
    return 'Reading every system takes the project\'s secret key: run the dashboard with SUPABASE_SECRET_KEY set (where that key may live; never on the fleet\'s machines), or use `ccm-sync fleet` there.';
  }
  return undefined;
}

/** Each system's coding-agent tasks of the last 7 days, as `ccm-sync report --by system` sums them; undefined when unreadable. */
async function agentWeek(settings: Settings, nowMs: number): Promise<FleetView['agents']> {
  try {
    const { lines } = buildReport(await readTaskSummaries(settings, new Date(nowMs - 7 * 86_400_000).toISOString()), 'system');
    return Object.fromEntries(lines.map((l) => [l.key, { tasks: l.tasks, cost_usd: l.cost_usd, failure_rate: l.failure_rate, permission_wait_seconds: l.permission_wait_seconds }]));
  } catch {
    return undefined; // a remote without the task columns yet: the fleet view goes on without them
  }
}

export async function loadFleet(settings: Settings, nowMs: number): Promise<FleetState> {
  const why = fleetUnavailable(settings);
  if (why) return { unavailable: why };
  try {
    const view = fleetView(await readFleet(settings), nowMs, settings.monitoring.fleet_stale_minutes);
    return { ...view, agents: await agentWeek(settings, nowMs) };
  } catch (err) {
    return { unavailable: `cannot read the fleet: ${redact(messageOf(err))}` };
  }
}
