/**
 * Stage 4, package: one page of pending outbox rows becomes batches ready to upload.
 *
 * 1. Rows are routed to the packager that claims their table (hook events → task summaries);
 *    everything else goes through the coalescing packager.
 * 2. Selective sync (a large backlog) may skip hook events: they are settled locally, their full
 *    detail stays in `hook_events`.
 * 3. Packaged operations are cut into batches of at most `maxOps` operations and `maxBytes` bytes.
 *    An operation that alone exceeds `maxBytes` is not uploaded: its sources are failed locally
 *    with a message naming the size and the fix, and the rest of the page goes on.
 */
import { TABLES } from '../catalog.ts';
import { coalescingPackager } from './coalesce.ts';
import { hookSummaryPackager } from './hook-summary.ts';
import type { LocallySettled, Packaged, Packager, PackagerContext } from './types.ts';
import type { PendingRow } from '../store/outbox.ts';

export const BUILTIN_PACKAGERS: readonly Packager[] = [hookSummaryPackager];
const SUMMARY_TABLES: ReadonlySet<string> = new Set(TABLES.filter((t) => t.sync === 'summary').map((t) => t.name));

export interface PackagedBatch {
  items: Packaged[];
  bytes: number;
}

export interface PackageOptions {
  maxOps: number;
  maxBytes: number;
  /** Settle hook events without uploading a summary (selective sync with hook_events: skip). */
  skipHookEvents?: boolean;
  packagers?: readonly Packager[];
}

export interface PackagedPage {
  batches: PackagedBatch[];
  settled: LocallySettled[];
  oversized: { item: Packaged; bytes: number }[];
}

/** Bytes of the batch envelope around its operations: {"system_id":..,"sync_timestamp":..,"operations":[]}. */
const ENVELOPE_BYTES = 256;

/**
 * What this row would weigh on the wire uploaded as is, one operation per row, no packaging:
 * {"op_id":"…","operation":"…","table":"…","record_id":"…","data":…,"changed_at":"…","seq":…}.
 * The "bytes in" of the reduction figures.
 */
export function unpackagedBytes(row: PendingRow): number {
  return 84 + 1 + row.op_id.length + row.operation.length + Buffer.byteLength(row.table_name) + Buffer.byteLength(row.record_id) +
    (row.bytes || 2) + row.changed_at.length + String(row.id).length;
}

export function packagePage(rows: PendingRow[], ctx: PackagerContext, opts: PackageOptions): PackagedPage {
  const packagers = opts.packagers ?? BUILTIN_PACKAGERS;
  const routed = new Map<Packager, PendingRow[]>();
  const settled: LocallySettled[] = [];
  const skipped: PendingRow[] = [];
  for (const row of rows) {
    if (opts.skipHookEvents && SUMMARY_TABLES.has(row.table_name)) {
      skipped.push(row);
      continue;
    }
    const p = packagers.find((x) => x.tables.includes(row.table_name)) ?? coalescingPackager;
    const list = routed.get(p);
    if (list) list.push(row);
    else routed.set(p, [row]);
  }
  if (skipped.length) settled.push({ sources: skipped, result: 'skipped' });

  // Keep upload order: the packaged operation goes where its first (highest-priority) source was.
  const items: { item: Packaged; order: number }[] = [];
  const position = new Map(rows.map((r, i) => [r.id, i]));
  for (const [p, list] of routed) {
    const out = p.package(list, ctx);
    settled.push(...out.settled);
    for (const item of out.packaged) {
      items.push({ item, order: Math.min(...item.sources.map((s) => position.get(s.id)!)) });
    }
  }
  items.sort((a, b) => a.order - b.order);

  const batches: PackagedBatch[] = [];
  const oversized: PackagedPage['oversized'] = [];
  let current: PackagedBatch = { items: [], bytes: ENVELOPE_BYTES };
  for (const { item } of items) {
    const bytes = Buffer.byteLength(JSON.stringify(item.op)) + 1;
    if (bytes + ENVELOPE_BYTES > opts.maxBytes) {
      oversized.push({ item, bytes });
      continue;
    }
    if (current.items.length >= opts.maxOps || current.bytes + bytes > opts.maxBytes) {
      batches.push(current);
      current = { items: [], bytes: ENVELOPE_BYTES };
    }
    current.items.push(item);
    current.bytes += bytes;
  }
  if (current.items.length) batches.push(current);
  return { batches, settled, oversized };
}
