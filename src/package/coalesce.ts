/**
 * The default packager: operations pass through unchanged in meaning, but several pending
 * operations on the same (table, record_id) collapse into one carrying the latest state.
 *
 * Rules, applied in change order (changed_at, then outbox id):
 * - INSERT/UPDATE after INSERT/UPDATE: one upsert whose data is the earlier data patched by the
 *   later (record_data is a partial row; later keys win).
 * - anything after DELETE starts again from that operation's data.
 * - a final DELETE is sent as a DELETE, which leaves a tombstone remotely. This holds even for
 *   INSERT-then-DELETE, which looks like it could send nothing: an operation on the same record
 *   recorded later with an older change time (a backdated write, or one in another page) must
 *   still lose to the delete, and only a remote tombstone can say so. The property test in
 *   test/packaging.test.ts found this; a tombstone costs one small operation.
 * The result carries the newest change time and the newest op_id, so last-write-wins compares
 * exactly what it would have compared for the last source operation; the other op_ids travel as
 * source_ids and are written to the remote ledger too.
 */
import type { PendingRow } from '../store/outbox.ts';
import type { OperationKind, WireOperation } from '../types.ts';
import type { Packaged, Packager, PackagerContext } from './types.ts';

function byChange(a: PendingRow, b: PendingRow): number {
  return a.changed_at < b.changed_at ? -1 : a.changed_at > b.changed_at ? 1 : a.id - b.id;
}

export function coalesceGroup(group: PendingRow[], ctx: PackagerContext): Packaged {
  const rows = [...group].sort(byChange);
  const first = rows[0]!;
  let data: Record<string, unknown> = {};
  let deleted = false;
  for (const row of rows) {
    if (row.operation === 'DELETE') {
      deleted = true;
      data = {};
      continue;
    }
    const patch = row.record_data ? (JSON.parse(row.record_data) as Record<string, unknown>) : {};
    data = deleted ? patch : { ...data, ...patch };
    deleted = false;
  }
  const last = rows[rows.length - 1]!;
  const kind: OperationKind = deleted ? 'DELETE' : first.operation === 'INSERT' ? 'INSERT' : 'UPDATE';
  const op: WireOperation = {
    op_id: last.op_id,
    operation: kind,
    table: last.table_name,
    record_id: last.record_id,
    data,
    changed_at: last.changed_at,
    seq: Math.max(...rows.map((r) => r.id)),
  };
  if (ctx.manualTables.has(last.table_name)) op.conflict = 'manual';
  if (rows.some((r) => r.force)) op.force = true;
  if (rows.length > 1) op.source_ids = rows.slice(0, -1).map((r) => r.op_id);
  return { op, sources: rows };
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
    return { packaged: [...groups.values()].map((g) => coalesceGroup(g, ctx)), settled: [] };
  },
};
