/** `ccm-sync conflicts list|resolve` and `ccm-sync alerts`. */
import { InputError } from '../../errors.ts';
import { evaluateAlerts } from '../../monitor/alerts.ts';
import { tokenFacts } from '../../remote/credentials.ts';
import { recordFromRemoteRow } from '../../catalog.ts';
import { refreshLocalCopy } from '../../settle/settle.ts';
import { emit, type GlobalOptions } from '../output.ts';
import { lookLocal, repairLocal } from '../with-local.ts';

export const alertsCommand = (opts: GlobalOptions) =>
  lookLocal(opts, async (settings, local) => {
    const firing = evaluateAlerts(local, settings.monitoring, Date.now(), tokenFacts(settings));
    emit(opts, { firing }, () => (firing.length ? firing.map((a) => `[${a.severity}] ${a.rule}: ${a.message}`).join('\n') : 'no alerts firing'));
    if (firing.length) process.exitCode = 1;
  });

/** The keys of a local write whose value the remote record does not hold (what a person decides on). */
function differing(local: Record<string, unknown> | null, remote: Record<string, unknown> | null): string[] {
  if (!local) return [];
  const theirs = remote ? recordFromRemoteRow(remote) : {};
  return Object.keys(local).filter((k) => JSON.stringify(local[k] ?? null) !== JSON.stringify(theirs[k] ?? null));
}

export const conflictsListCommand = (opts: GlobalOptions) =>
  lookLocal(opts, async (_settings, local) => {
    const rows = local.review.conflicts().map((c) => {
      const data = c.record_data ? (JSON.parse(c.record_data) as Record<string, unknown>) : null;
      const remote = c.remote_data ? (JSON.parse(c.remote_data) as Record<string, unknown> | null) : null;
      return {
        id: c.id,
        op_id: c.op_id,
        table: c.table_name,
        record_id: c.record_id,
        operation: c.operation,
        local: { changed_at: c.changed_at, data },
        remote,
        differs: differing(data, remote),
      };
    });
    emit(opts, { conflicts: rows }, () =>
      rows.length === 0
        ? 'no conflicts'
        : rows.map((r) => [
            `#${r.id} ${r.table}/${r.record_id} (${r.operation})`,
            `  local  (changed ${r.local.changed_at}): ${JSON.stringify(r.local.data)}`,
            `  remote (updated ${String(r.remote?.updated_at ?? '?')}): ${r.remote ? JSON.stringify(recordFromRemoteRow(r.remote)) : 'gone (deleted)'}`,
            `  differs in: ${r.differs.join(', ') || 'nothing (the remote holds what this write says)'}`,
            `  resolve: ccm-sync conflicts resolve ${r.id} --keep local|remote (the whole write: local uploads it over the remote, remote drops it)`,
          ].join('\n')).join('\n\n'));
  });

const noConflict = (id: string) => new InputError(`no conflict with id ${id}; see \`ccm-sync conflicts list\``);

export const conflictsResolveCommand = (id: string, opts: GlobalOptions & { keep: 'local' | 'remote' }) =>
  repairLocal(opts, async (_settings, local) => {
    const row = local.review.findConflict(id);
    if (!row) throw noConflict(id);
    const already = row.status !== 'conflict';
    if (already) {
      const was = row.result === 'kept_remote' ? 'remote' : row.force ? 'local' : undefined;
      if (!was) throw new InputError(`operation ${id} is not a conflict (status ${row.status})`);
      emit(opts, { id: row.id, kept: was, already_resolved: true }, () => `#${row.id} was already resolved (kept ${was})`);
      return;
    }
    if (opts.keep === 'local') {
      local.review.requeueConflict(row.id, row.buckets, true);
      emit(opts, { id: row.id, kept: 'local' }, () => `#${row.id}: the local version goes up with the next sync (\`ccm-sync sync now\`)`);
    } else {
      local.db.transaction(() => {
        local.review.keepRemote(row.id, new Date().toISOString());
        refreshLocalCopy(local.db, row.table_name, row.record_id, row.remote_data ? JSON.parse(row.remote_data) : null);
      })();
      emit(opts, { id: row.id, kept: 'remote' }, () => `#${row.id}: kept the remote version; the local copy was refreshed`);
    }
  }, () => {
    throw noConflict(id);
  });
