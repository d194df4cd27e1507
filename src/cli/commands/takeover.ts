/**
 * `ccm-sync sync takeover`: this installation takes its system id over from the installation the
 * remote names as its last writer (src/remote/identity.ts): after a reinstall, a new home, or a
 * machine that replaces another. The other installation's syncs are refused from then on.
 */
import { ConfigError } from '../../errors.ts';
import { installationOf, otherHolder } from '../../remote/identity.ts';
import { openTransport } from '../../remote/index.ts';
import { uploader } from '../../remote/upload.ts';
import { heartbeatOf } from '../../monitor/heartbeat.ts';
import { emit, type GlobalOptions } from '../output.ts';
import { withLocal } from '../with-local.ts';

export async function syncTakeoverCommand(opts: GlobalOptions): Promise<void> {
  await withLocal(opts, async (settings, local) => {
    const t = await openTransport(settings);
    try {
      if (!t.ownHeartbeat) throw new ConfigError(`the ${t.kind} remote holds this home only: there is nothing to take over`);
      const me = installationOf(local.state, new Date(local.clock.now()).toISOString());
      const other = await otherHolder(t, { instance: me.instance }, AbortSignal.timeout(settings.sync.request_timeout_ms));
      if (!other) {
        local.state.delete('installation_takeover');
        emit(opts, { taken_over: false, system_id: settings.system.id }, () => `nothing to take over: the remote names this installation as system ${settings.system.id}'s, or none`);
        return;
      }
      local.state.set('installation_takeover', { instance: other.instance, host: other.host, at: new Date(local.clock.now()).toISOString() });
      // The remote's row names this installation from now on (a heartbeat in an empty batch).
      await uploader(t, settings.system.id, local.clock, { instance: me.instance, accepts: other.instance })
        .upload([], { heartbeat: heartbeatOf(local, settings), settled_through: local.outbox.settledThrough() });
      emit(opts, { taken_over: true, system_id: settings.system.id, from: other }, () => [
        `this installation takes system id ${settings.system.id} over from the one on host ${other.host ?? 'unknown'} (last heard from ${other.at ?? 'at an unknown time'}); the remote names this one now.`,
        'That installation\'s syncs are refused from its next check on. A daemon of it that runs now checks every ten minutes, and each of its syncs until then names it again: stop it first.',
      ].join('\n'));
    } finally {
      await t.close();
    }
  });
}
