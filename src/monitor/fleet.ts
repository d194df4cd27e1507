/**
 * The fleet view's judgement of each system, from what it last said about itself: stale when it
 * has been silent longer than monitoring.fleet_stale_minutes (a daemon reports at least every
 * monitoring.heartbeat_minutes), failing when it holds dead letters, is offline, or has alerts
 * firing.
 */
import type { FleetRow } from '../remote/fleet.ts';

export interface FleetSystem {
  system_id: string;
  type: string | null;
  version: string | null;
  last_seen_at: string;
  last_sync_at: string | null;
  backlog: number | null;
  failed: number | null;
  connection: string | null;
  /** When the system's supabase token expires, as its heartbeat said (its token_expiring alert shows in alerts). */
  token_expires_at: string | null;
  alerts: string[];
  stale: boolean;
  failing: boolean;
  /** Why it is stale or failing, for people. */
  problems: string[];
}

export interface FleetView {
  at: string;
  stale_after_minutes: number;
  systems: FleetSystem[];
  totals: { systems: number; stale: number; failing: number; backlog: number; failed: number };
  /** Each system's coding-agent tasks of the last 7 days (`ccm-sync report`), where the remote has them. */
  agents?: Record<string, { tasks: number; cost_usd: number; failure_rate: number | null; permission_wait_seconds: number }>;
}

export function fleetView(rows: readonly FleetRow[], nowMs: number, staleMinutes: number): FleetView {
  const systems = rows.map((r): FleetSystem => {
    const h = r.heartbeat;
    const silentMin = (nowMs - Date.parse(r.last_seen_at)) / 60_000;
    const stale = silentMin > staleMinutes;
    const problems: string[] = [];
    if (stale) problems.push(`silent for ${Math.round(silentMin)} min`);
    if (h && h.failed > 0) problems.push(`${h.failed} dead-lettered`);
    if (h && h.connection === 'offline') problems.push('offline');
    if (h && h.alerts.length) problems.push(`alerts: ${h.alerts.join(', ')}`);
    return {
      system_id: r.system_id,
      type: h?.type ?? null,
      version: h?.version ?? null,
      last_seen_at: r.last_seen_at,
      // The remote's own time of the newest batch with operations; else what the system said.
      last_sync_at: r.last_batch_at ?? h?.last_sync_at ?? null,
      backlog: h?.backlog ?? null,
      failed: h?.failed ?? null,
      connection: h?.connection ?? null,
      token_expires_at: h?.token_expires_at ?? null,
      alerts: h?.alerts ?? [],
      stale,
      failing: Boolean(h && (h.failed > 0 || h.connection === 'offline' || h.alerts.length > 0)),
      problems,
    };
  });
  return {
    at: new Date(nowMs).toISOString(),
    stale_after_minutes: staleMinutes,
    systems,
    totals: {
      systems: systems.length,
      stale: systems.filter((x) => x.stale).length,
      failing: systems.filter((x) => x.failing).length,
      backlog: systems.reduce((a, x) => a + (x.backlog ?? 0), 0),
      failed: systems.reduce((a, x) => a + (x.failed ?? 0), 0),
    },
  };
}
