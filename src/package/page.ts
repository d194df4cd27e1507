/**
 * Stage 4, package, as a sync run does it: a page of the outbox (read by the run,
 * `SyncRun.readPage` in ../workers/sync-run.ts, bounded by rows and by bytes of loaded
 * record_data) packaged into batches. A record that makes packaging throw (a record_data that does
 * not parse, a summary query that fails on it) is found by packaging halves of the page, then
 * dead-lettered on its own with the reason; the rest of the page goes on.
 */
import { messageOf } from '../errors.ts';
import { packagePage, type PackageOptions, type PackagedPage } from './index.ts';
import type { PackagerContext } from './types.ts';
import type { PendingRow } from '../store/outbox.ts';

export interface Poisoned {
  row: PendingRow;
  error: string;
}

/** Packages a page; rows whose packaging throws are returned apart, each with its error. */
export function packageIsolating(rows: PendingRow[], ctx: PackagerContext, opts: PackageOptions): { page: PackagedPage; poisoned: Poisoned[] } {
  try {
    return { page: packagePage(rows, ctx, opts), poisoned: [] };
  } catch (err) {
    if (rows.length === 1) return { page: { batches: [], settled: [], oversized: [] }, poisoned: [{ row: rows[0]!, error: messageOf(err) }] };
    // Records of one task or one record id must stay together (a summary, a coalesced upload), so
    // halves split between groups where they can.
    const mid = splitPoint(rows);
    const a = packageIsolating(rows.slice(0, mid), ctx, opts);
    const b = packageIsolating(rows.slice(mid), ctx, opts);
    return {
      page: {
        batches: [...a.page.batches, ...b.page.batches],
        settled: [...a.page.settled, ...b.page.settled],
        oversized: [...a.page.oversized, ...b.page.oversized],
      },
      poisoned: [...a.poisoned, ...b.poisoned],
    };
  }
}

function groupKey(r: PendingRow): string {
  return r.task_id !== undefined && r.task_id !== null ? `task:${String(r.task_id)}` : `${r.table_name}\u0000${r.record_id}`;
}

/** Sorts rows so that each group is contiguous, and returns a split point between groups near the middle. */
function splitPoint(rows: PendingRow[]): number {
  rows.sort((x, y) => (groupKey(x) < groupKey(y) ? -1 : groupKey(x) > groupKey(y) ? 1 : 0));
  const mid = Math.ceil(rows.length / 2);
  for (let d = 0; d < rows.length; d++) {
    for (const i of [mid + d, mid - d]) {
      if (i > 0 && i < rows.length && groupKey(rows[i - 1]!) !== groupKey(rows[i]!)) return i;
    }
  }
  return mid;
}
