/**
 * Stage 6, settle: write each upload outcome back to the outbox, in one transaction per batch.
 *
 * Every source operation of a packaged operation gets that operation's outcome:
 * - applied, duplicate → synced (a duplicate was applied by an earlier upload whose answer was lost);
 *   sources folded into an aggregate settle as 'summarised', the one whose op_id it carries as the
 *   remote's answer;
 * - stale → synced with result 'stale': the remote was newer and is kept; the local copy of an owned
 *   table is refreshed from the remote version;
 * - conflict → status 'conflict', both versions kept for `ccm-sync conflicts`;
 * - rejected → retried later with backoff, and failed (dead letter) after `maxAttempts` uploads.
 * Nothing is marked synced without the remote's answer for it.
 */
import { OWNED_TABLES } from './record.ts';
import type { Db } from './store/db.ts';
import type { Outbox, PendingRow, SettleEntry } from './store/outbox.ts';
import type { Packaged } from './package/types.ts';
import type { RemoteResult } from './types.ts';

export interface SettleOptions {
  nowMs: number;
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface SettleCounts {
  synced: number;
  stale: number;
  conflict: number;
  failed: number;
  retry: number;
}

const META_COLUMNS = ['system_id', 'id', 'updated_at', 'sync_seq', 'sync_op_id'];

/** Remote row without its bookkeeping columns, as a local record. */
export function remoteData(remote: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(remote)) if (!META_COLUMNS.includes(k) && v !== null) out[k] = v;
  return out;
}

/** Replaces the local copy of an owned record with the remote version. */
export function refreshLocalCopy(db: Db, table: string, recordId: string, remote: Record<string, unknown> | null | undefined): void {
  if (!OWNED_TABLES.has(table)) return;
  if (!remote) {
    db.prepare('UPDATE local_records SET deleted = 1 WHERE table_name = ? AND record_id = ?').run(table, recordId);
    return;
  }
  db.prepare(`
    INSERT INTO local_records (table_name, record_id, data, changed_at, deleted) VALUES (?, ?, ?, ?, 0)
    ON CONFLICT (table_name, record_id) DO UPDATE SET data = excluded.data, changed_at = excluded.changed_at, deleted = 0`)
    .run(table, recordId, JSON.stringify(remoteData(remote)), new Date(String(remote.updated_at)).toISOString());
}

export function retryDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
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
        case 'rejected':
          entries.push(rejection(row, `rejected by remote${r.sqlstate ? ` (${r.sqlstate})` : ''}: ${r.message ?? 'no reason given'}`, opts));
          counts[row.retry_count + 1 >= opts.maxAttempts ? 'failed' : 'retry']++;
          break;
      }
    }
    if (r.status === 'stale') refresh.push({ table: item.op.table, id: item.op.record_id, remote: r.remote });
  });
  outbox.db.transaction(() => {
    outbox.settle(entries, new Date(opts.nowMs).toISOString());
    for (const f of refresh) refreshLocalCopy(outbox.db, f.table, f.id, f.remote);
  })();
  return counts;
}

function rejection(row: PendingRow, error: string, opts: SettleOptions): SettleEntry {
  const attempt = row.retry_count + 1;
  if (attempt >= opts.maxAttempts) return { kind: 'failed', row, error: `${error} (gave up after ${attempt} attempt${attempt > 1 ? 's' : ''}; fix it, then \`ccm-sync sync retry-failed\`)` };
  return { kind: 'retry', row, error, nextAttemptAt: opts.nowMs + retryDelay(attempt, opts.baseDelayMs, opts.maxDelayMs) };
}

/** Settles rows that never left the machine: coalesced away, skipped, or over the byte cap. */
export function settleLocally(outbox: Outbox, synced: { sources: PendingRow[]; result: string }[], failed: { sources: PendingRow[]; error: string }[], nowMs: number): void {
  const entries: SettleEntry[] = [];
  for (const s of synced) for (const row of s.sources) entries.push({ kind: 'synced', row, result: s.result });
  for (const f of failed) for (const row of f.sources) entries.push({ kind: 'failed', row, error: f.error });
  if (entries.length) outbox.settle(entries, new Date(nowMs).toISOString());
}
