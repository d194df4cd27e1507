/**
 * Stage 5, remote (the upload): the answer to one batch_sync call, checked before anything is
 * settled from it.
 *
 * A remote of schema 5 or later answers a batch that asks for it (`answers: 'compact'`, see
 * ./upload.ts and COMPACT_ANSWERS_SCHEMA in ./transport.ts) with `{applied, results}`: a result only for each operation that was not simply
 * applied, by position counted from 1, and how many were applied. Otherwise it is one result per
 * operation, in order. Either way a sync run gets one result per operation, in order, and each
 * result names the operation it answers: an answer that does not add up is refused as a whole
 * (RemoteRejectedError), so that no operation is settled on a guess.
 */
import { RemoteRejectedError } from '../errors.ts';
import type { RemoteKind } from './transport.ts';
import { REMOTE_STATUSES, type Batch, type RemoteResult, type RemoteStatus, type WireOperation } from '../types.ts';

const STATUSES: ReadonlySet<RemoteStatus> = new Set(REMOTE_STATUSES);

/** One result per operation of `batch`, in order, from what batch_sync answered; throws when it does not add up. */
export function checkResults(kind: RemoteKind, batch: Batch, value: unknown): RemoteResult[] {
  const ops = batch.operations;
  // An array is one result per operation even when compact answers were asked for: a remote rolled
  // back to an older schema since this process asked it which it speaks answers so, and each result
  // is checked all the same.
  const results = batch.answers === 'compact' && !Array.isArray(value) ? expand(kind, ops, value) : value;
  if (!Array.isArray(results) || results.length !== ops.length) {
    throw refused(kind, `answered ${Array.isArray(results) ? `${results.length} results` : describe(results)} for ${ops.length} operations`);
  }
  results.forEach((r: unknown, i) => checkOne(kind, ops[i]!, i + 1, r));
  return results as RemoteResult[];
}

/** A compact answer as one result per operation: those it lists, and "applied" for the rest. */
function expand(kind: RemoteKind, ops: readonly WireOperation[], value: unknown): unknown[] {
  const v = value as { applied?: unknown; results?: unknown } | null;
  if (!isObject(v) || typeof v.applied !== 'number' || !isObject(v.results)) {
    throw refused(kind, `answered ${describe(value)} where a compact answer ({applied, results}) was asked for`);
  }
  const listed = v.results as Record<string, unknown>;
  const positions = Object.keys(listed);
  const outside = positions.find((p) => !/^[1-9][0-9]*$/.test(p) || Number(p) > ops.length);
  if (outside !== undefined || v.applied + positions.length !== ops.length) {
    throw refused(kind, `answered ${v.applied} applied and ${positions.length} results${outside !== undefined ? ` (one at position ${JSON.stringify(outside)})` : ''} for ${ops.length} operations`);
  }
  // (a position listed with no result, null, is checked as what it is, not taken for applied)
  return ops.map((op, i) => (Object.hasOwn(listed, String(i + 1)) ? listed[String(i + 1)] : { op_id: op.op_id, status: 'applied' }));
}

function checkOne(kind: RemoteKind, op: WireOperation, position: number, r: unknown): void {
  const result = r as Partial<RemoteResult> | null;
  if (!isObject(result) || !STATUSES.has(result.status as RemoteStatus)) {
    throw refused(kind, `answered ${describe(r)} for operation ${position} (${op.op_id})`);
  }
  if (String(result.op_id).toLowerCase() !== op.op_id.toLowerCase()) {
    throw refused(kind, `answered for operation ${String(result.op_id)} at position ${position}, where ${op.op_id} was sent`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  return Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v === 'object' ? JSON.stringify(v).slice(0, 80) : typeof v;
}

function refused(kind: RemoteKind, what: string): RemoteRejectedError {
  return new RemoteRejectedError(`${kind} remote: batch_sync ${what}; nothing of this batch is settled from it. Is the remote's migration current (\`ccm-sync doctor\`)?`);
}
