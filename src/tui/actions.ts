/**
 * What the dashboard's keys do. Every action goes through the daemon's API; with no daemon
 * running, the action says so instead of doing nothing.
 */
import { findDaemon } from '../daemon/client.ts';
import { messageOf } from '../errors.ts';
import type { Settings } from '../config/load.ts';
import type { StateStore } from '../store/state.ts';
import type { SyncResult } from '../types.ts';

export type ActionKey = 's' | 'd' | 'p' | 'o' | 'r';

export async function runAction(key: ActionKey, settings: Settings, state: StateStore): Promise<string> {
  const daemon = findDaemon(settings, state);
  if (!daemon) return 'no daemon is running: start one with `ccm-sync start` (this dashboard only reads)';
  try {
    switch (key) {
      case 's': {
        const r = await daemon.call<SyncResult>('POST', '/api/sync/now');
        return r.skipped && r.status !== 'failed' ? `sync now skipped: ${r.skipped}` : `sync now: ${r.status}, ${r.operations_synced} ops in ${r.duration_ms} ms${r.error ? ` (${r.error})` : ''}`;
      }
      case 'd': {
        const r = await daemon.call<SyncResult>('POST', '/api/sync/drain');
        return r.skipped && r.status !== 'failed' ? `drain skipped: ${r.skipped}` : `drain: ${r.status}, ${r.operations_synced} ops in ${r.duration_ms} ms${r.error ? ` (${r.error})` : ''}`;
      }
      case 'p': {
        const r = await daemon.call<{ paused: boolean }>('POST', '/api/pause', {});
        return r.paused ? 'automatic syncs paused (p resumes)' : 'automatic syncs resumed';
      }
      case 'o': {
        const simulated = Boolean(state.get('simulated_offline_until')?.until && Date.parse(state.get('simulated_offline_until')!.until!) > Date.now());
        await daemon.call('POST', '/api/offline', { duration_ms: simulated ? null : 300_000 });
        return simulated ? 'simulated offline ended; draining' : 'simulating offline for 5 minutes (o ends it)';
      }
      case 'r': {
        const r = await daemon.call<{ requeued: number }>('POST', '/api/sync/retry-failed');
        return r.requeued ? `re-queued ${r.requeued} failed operations` : 'no failed operations';
      }
    }
  } catch (err) {
    return `failed: ${messageOf(err)}`;
  }
}
