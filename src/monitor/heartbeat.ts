/**
 * What a system says about itself to the remote with every batch it uploads (and at least hourly,
 * from the daemon): its type and version, backlog and dead letters, connection state, the
 * alert rules firing, when it last synced, and which installation it is (src/remote/identity.ts).
 * The fleet view (`ccm-sync fleet`) reads these rows.
 */
import { hostname } from 'node:os';
import { AlertState } from '../store/alert-state.ts';
import { VERSION } from '../version.ts';
import type { Settings } from '../config/load.ts';
import type { Local } from '../local.ts';
import type { Heartbeat } from '../types.ts';

export function heartbeatOf(local: Local, settings: Pick<Settings, 'system'>): Heartbeat {
  return {
    type: settings.system.type,
    version: VERSION,
    backlog: local.outbox.pendingTotal(),
    failed: local.outbox.heldBack().failed,
    connection: local.state.get('connection')?.state ?? 'online',
    alerts: new AlertState(local.db).firing().map((a) => a.rule),
    last_sync_at: local.state.get('last_success')?.at ?? null,
    token_expires_at: local.state.get('token')?.expires_at ?? null,
    // Made with the database (local migration 9); sent with every batch, so one read.
    instance: local.state.get('installation')?.instance,
    host: hostname(),
    at: new Date(local.clock.now()).toISOString(),
  };
}
