/**
 * The default packager: operations pass through unchanged in meaning, but several pending
 * operations on the same (table, record_id) collapse into as few as last-write-wins allows.
 *
 * Last-write-wins is per column (see the remote migration 20261126000000): a write's version is
 * (changed_at, outbox id), and each key of a merged upload carries the version of the operation
 * that wrote it last, so merging changes no outcome: {status} at t3 and {title} at t5 go up as
 * one upsert in which status is still judged at t3. Rules, applied in version order:
 * - INSERT/UPDATE after INSERT/UPDATE: one upsert, later keys win, each key keeps its version;
 * - a DELETE is always sent as a DELETE (it clears the remote's older columns and leaves a
 *   tombstone, so that a late, older write cannot resurrect the record). Writes after the last
 *   DELETE go up as a second, newer upsert; writes before it are settled by the DELETE's answer.
 * The carrier of each group is its newest operation: its op_id goes to the remote, the others
 * travel as source_ids and are written to the remote ledger too.
 */
import type { PendingRow } from '../store/outbox.ts';
import type { OperationKind, WireOperation } from '../types.ts';
import type { Packaged, Packager, PackagerContext } from './types.ts';

function byVersion(a: PendingRow, b: PendingRow): number {
  return a.changed_at < b.changed_at ? -1 : a.changed_at > b.changed_at ? 1 : a.id - b.id;
}

function carrier(rows: readonly PendingRow[], kind: OperationKind, data: Record<string, unknown>, ctx: PackagerContext): WireOperation {
  const last = rows[rows.length - 1]!;
  const op: WireOperation = {
    op_id: last.op_id,
    operation: kind,
    table: last.table_name,
    record_id: last.record_id,
    data,
    changed_at: last.changed_at,
    seq: last.id,
    ledger_seq: Math.max(...rows.map((r) => r.id)),
  };
  if (ctx.manualTables.has(last.table_name)) op.conflict = 'manual';
  if (rows.some((r) => r.force)) op.force = true;
  if (rows.length > 1) op.source_ids = rows.slice(0, -1).map((r) => r.op_id);
  return op;
}

/** One upsert of several writes: later keys win, and each key keeps the version of its write. */
function mergeWrites(rows: readonly PendingRow[], ctx: PackagerContext): WireOperation {
  const data: Record<string, unknown> = {};
  const writer: Record<string, PendingRow> = {};
  for (const row of rows) {
    const patch = row.record_data ? (JSON.parse(row.record_data) as Record<string, unknown>) : {};
    for (const [k, v] of Object.entries(patch)) {
      data[k] = v;
      writer[k] = row;
    }
  }
  const last = rows[rows.length - 1]!;
  const op = carrier(rows, rows[0]!.operation === 'INSERT' ? 'INSERT' : 'UPDATE', data, ctx);
  const versions: Record<string, [string, number]> = {};
  for (const [k, w] of Object.entries(writer)) if (w !== last) versions[k] = [w.changed_at, w.id];
  if (Object.keys(versions).length) op.versions = versions;
  return op;
}

export function coalesceGroup(group: PendingRow[], ctx: PackagerContext): Packaged[] {
  const rows = [...group].sort(byVersion);
  let lastDelete = -1;
  rows.forEach((r, i) => {
    if (r.operation === 'DELETE') lastDelete = i;
  });
  const out: Packaged[] = [];
  if (lastDelete >= 0) {
    const sources = rows.slice(0, lastDelete + 1);
    out.push({ op: carrier(sources, 'DELETE', {}, ctx), sources });
  }
  const writes = rows.slice(lastDelete + 1);
  if (writes.length) out.push({ op: mergeWrites(writes, ctx), sources: writes });
  return out;
}

export const coalescingPackager: Packager = {
  name: 'coalesce',
  tables: [],
  package(rows, ctx) {
    const groups = new Map<string, PendingRow[]>();
    for (const row of rows) {
      const key = `${row.table_name}\u0000${row.record_id}`;
      const g = groups.get(key);
      if (g) g.push(row);
      else groups.set(key, [row]);
    }
    return { packaged: [...groups.values()].flatMap((g) => coalesceGroup(g, ctx)), settled: [] };
  },
};
