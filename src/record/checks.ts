/**
 * The field checks of stage 1, record (./record.ts): record_data against the table's contract,
 * changed_at against this machine's clock, and the JSON against what Postgres can store. Each
 * throws an InputError that names the input at fault (`where`) and the fix.
 */
import { keepableEvent } from '../hooks/keepable.ts';
import { InputError } from '../errors.ts';
import { contractProblems, withoutRedundantId, type TableSpec } from '../catalog.ts';

export function fail(where: string, msg: string): never {
  throw new InputError(`${where}: ${msg}`);
}

export interface DataLimits {
  maxHookFieldChars?: number;
  maxRecordBytes: number;
  strictColumns?: boolean;
}

/** record_data checked against the table's contract; hook events with long fields cut. */
export function checkData(value: unknown, operation: string, spec: TableSpec, rid: string, opts: DataLimits, where: string): { data: Record<string, unknown> | null; originalBytes: number | null } {
  let data: Record<string, unknown> | null = null;
  let originalBytes: number | null = null;
  if (value !== undefined && value !== null) {
    if (typeof value !== 'object' || Array.isArray(value)) fail(where, 'record_data must be a JSON object');
    data = value as Record<string, unknown>;
    if (spec.sync === 'summary') {
      if (typeof data.task_id === 'number') data = { ...data, task_id: String(data.task_id) };
      const kept = keepableEvent(data, opts.maxHookFieldChars ?? 8192, opts.maxRecordBytes);
      if (kept.cut) originalBytes = Buffer.byteLength(JSON.stringify(data));
      data = kept.value;
    }
    const problems = contractProblems(spec, rid, data, { strictColumns: opts.strictColumns ?? false });
    if (problems.length) fail(where, problems.join('; '));
    data = withoutRedundantId(data);
  } else if (operation !== 'DELETE') {
    fail(where, `${String(operation)} needs record_data`);
  }
  return { data, originalBytes };
}

/** changed_at as an ISO time, refused when it is further ahead of this machine's clock than allowed. */
export function checkChangedAt(value: unknown, nowIso: string, maxFutureMs: number | undefined, where: string): string {
  const t = typeof value === 'string' ? Date.parse(value) : NaN;
  if (Number.isNaN(t)) fail(where, `changed_at must be an ISO 8601 time, got ${JSON.stringify(value)}`);
  const ahead = t - Date.parse(nowIso);
  if (maxFutureMs !== undefined && ahead > maxFutureMs) {
    fail(where, `changed_at ${JSON.stringify(value)} is ${Math.round(ahead / 3_600_000)} hours ahead of this machine's clock (limit sync.max_future_seconds = ${maxFutureMs / 1000}); a change cannot happen in the future: check the value, or the clock`);
  }
  return new Date(t).toISOString();
}

/** The record's JSON, refused when it is too large or holds what Postgres cannot store. */
export function checkJson(json: string, maxRecordBytes: number, where: string): string {
  // A string of n UTF-16 units is at most 3n UTF-8 bytes: most records need no count at all.
  if (json.length * 3 > maxRecordBytes) {
    const bytes = Buffer.byteLength(json);
    if (bytes > maxRecordBytes) fail(where, `record_data is ${bytes} bytes, over the ${maxRecordBytes}-byte limit (sync.max_bytes_per_request)`);
  }
  // Postgres text and jsonb cannot hold U+0000: such a record would fail every upload of its batch.
  if (json.includes('\\u0000') && /(?<!\\)(?:\\\\)*\\u0000/.test(json)) {
    fail(where, 'record_data contains a NUL character (\\u0000), which Postgres cannot store; remove it');
  }
  // Nor a lone UTF-16 surrogate: JSON.stringify writes it as an escape, which jsonb refuses.
  if (json.includes('\\ud') && /(?<!\\)(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/i.test(json)) {
    fail(where, 'record_data contains a lone UTF-16 surrogate (half of a character), which Postgres cannot store; fix the text encoding');
  }
  return json;
}
