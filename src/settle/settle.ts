/**
 * Stage 6, settle: write each upload outcome back to the outbox, in one transaction per batch (a
 * savepoint of the transaction in which a sync run settles several answered batches together,
 * see src/workers/sync-run.ts).
 *
 * Every source operation of a packaged operation gets that operation's outcome:
 * - applied, duplicate → synced (a duplicate was applied by an earlier upload whose answer was lost);
 *   sources folded into an aggregate settle as 'summarised', the one whose op_id it carries as the
 *   remote's answer;
 * - stale → synced with result 'stale': the remote was newer and is kept;
 * - conflict → status 'conflict', both versions kept for `ccm-sync conflicts`;
 * - rejected, permanently (SQLSTATE class 22, 23 or 42, or ccm-sync's CCMxx: the same data would
 *   be refused again) → failed at once, a dead letter with the reason and what to change;
 * - rejected otherwise → retried with backoff, and failed after `sync.retry.operation_max_attempts` uploads.
 * Whenever the remote answers with its version of the row (the operation lost a column to a newer
 * write), the local copy of a table ccm-sync keeps locally is refreshed from it.
 * Nothing is marked synced without the remote's answer for it.
 */
import { LOCAL_COPY_TABLES, recordFromRemoteRow } from '../catalog.ts';
import { backoffDelay, type BackoffOptions } from '../backoff.ts';
import { isPermanentRejection, remediation } from '../remote/transport.ts';
import { LocalRecords } from '../store/local-records.ts';
import type { Db } from '../store/db.ts';
import type { Outbox, PendingRow, SettleEntry } from '../store/outbox.ts';
import type { Packaged } from '../package/types.ts';
import type { RemoteResult } from '../types.ts';

export interface SettleOptions {
  nowMs: number;
  /** sync.retry as the config has it: the same names from the config file to the delay. */
  retry: BackoffOptions & { operation_max_attempts: number };
}

export interface SettleCounts {
  synced: number;
  stale: number;
  conflict: number;
  failed: number;
  retry: number;
  /** The remote's settled watermark, when it refused operations below it (CCM01). */
  watermark?: number;
}

/** Replaces the local copy of a record ccm-sync keeps locally with the remote version. */
export function refreshLocalCopy(db: Db, table: string, recordId: string, remote: Record<string, unknown> | null | undefined): void {
  if (!LOCAL_COPY_TABLES.has(table)) return;
  const copies = new LocalRecords(db);
  if (!remote) copies.gone(table, recordId);
  else copies.replace(table, recordId, recordFromRemoteRow(remote), new Date(String(remote.updated_at)).toISOString());
}

export function settleResults(
  outbox: Outbox,
  items: readonly Packaged[],
  results: readonly RemoteResult[],
  opts: SettleOptions,
): SettleCounts {
  const counts: SettleCounts = { synced: 0, stale: 0, conflict: 0, failed: 0, retry: 0 };
  const entries: SettleEntry[] = [];
  const refresh: { table: string; id: string; remote: Record<string, unknown> | null | undefined }[] = [];
  items.forEach((item, i) => {
    const r = results[i]!;
    for (const row of item.sources) {
      switch (r.status) {
        case 'applied':
        case 'duplicate':
          entries.push({ kind: 'synced', row, result: item.aggregated && row.op_id !== item.op.op_id ? 'summarised' : r.status });
          counts.synced++;
          break;
        case 'stale':
          entries.push({ kind: 'synced', row, result: 'stale' });
          counts.synced++;
          counts.stale++;
          break;
        case 'conflict':
          entries.push({ kind: 'conflict', row, remote: JSON.stringify(r.remote ?? null), error: `remote version is newer (updated ${String(r.remote?.updated_at ?? '?')}); resolve with \`ccm-sync conflicts resolve ${row.id} --keep local|remote\`` });
          counts.conflict++;
          break;
        case 'rejected': {
          const entry = rejection(row, r, opts);
          entries.push(entry);
          counts[entry.kind === 'failed' ? 'failed' : 'retry']++;
          if (r.sqlstate === 'CCM01' && typeof r.watermark === 'number') counts.watermark = Math.max(counts.watermark ?? 0, r.watermark);
          break;
        }
      }
    }
    if ((r.status === 'stale' || r.status === 'applied') && r.remote !== undefined) refresh.push({ table: item.op.table, id: item.op.record_id, remote: r.remote });
  });
  outbox.db.transaction(() => {
    outbox.settle(entries, new Date(opts.nowMs).toISOString());
    for (const f of refresh) refreshLocalCopy(outbox.db, f.table, f.id, f.remote);
  })();
  return counts;
}

function rejection(row: PendingRow, r: RemoteResult, opts: SettleOptions): SettleEntry {
  const reason = `rejected by the remote${r.sqlstate ? ` (${r.sqlstate})` : ''}: ${r.message ?? 'no reason given'}`;
  if (isPermanentRejection(r.sqlstate)) {
    return { kind: 'failed', row, code: r.sqlstate, error: `${reason}. Not retried: the same data would be refused again. ${remediation(r.sqlstate)}` };
  }
  const attempt = row.retry_count + 1;
  if (attempt >= opts.retry.operation_max_attempts) {
    return { kind: 'failed', row, code: r.sqlstate, error: `${reason} (gave up after ${attempt} attempt${attempt > 1 ? 's' : ''}; once it is fixed, \`ccm-sync failed retry ${row.id}\`)` };
  }
  const delay = backoffDelay(attempt, opts.retry);
  return { kind: 'retry', row, code: r.sqlstate, error: reason, nextAttemptAt: opts.nowMs + delay };
}

/** Settles rows that never left the machine: coalesced away, skipped, or over the byte cap. */
export function settleLocally(outbox: Outbox, synced: { sources: PendingRow[]; result: string }[], failed: { sources: PendingRow[]; error: string; code?: string }[], nowMs: number): void {
  const entries: SettleEntry[] = [];
  for (const s of synced) for (const row of s.sources) entries.push({ kind: 'synced', row, result: s.result });
  for (const f of failed) for (const row of f.sources) entries.push({ kind: 'failed', row, error: f.error, code: f.code });
  if (entries.length) outbox.settle(entries, new Date(nowMs).toISOString());
}
