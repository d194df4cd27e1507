/**
 * `ccm-sync remote query`: one read-only statement on the remote, for a person to look at what
 * arrived. Both transports run it in a read-only transaction with a statement timeout, over the
 * extended protocol (one statement: a `; commit; delete …` tail is refused by the server).
 */
import { InputError } from '../errors.ts';
import { classifyFailure, isSqlState, isTransientSqlState, type FailureFacts, type QueryAnswer, type RemoteKind } from './transport.ts';

export type { QueryAnswer };


/** bigint (int8) and numeric: the drivers give them as text, so no precision is lost. */
const NUMERIC_TYPES = new Set([20, 1700]);

/**
 * The rows with bigint and numeric values as numbers wherever a number holds them exactly (every
 * count and sum of a real table), and as text where it would not (a 30-digit numeric).
 */
export function answerOf(fields: readonly { name: string; dataTypeID: number }[], rows: unknown[][]): QueryAnswer {
  const numeric = fields.map((f) => NUMERIC_TYPES.has(f.dataTypeID));
  const exact = (v: unknown) => {
    if (typeof v !== 'string') return v;
    const n = Number(v);
    return Number.isFinite(n) && (String(n) === v || (Number.isSafeInteger(n) && String(BigInt(v)) === String(n))) ? n : v;
  };
  return { columns: fields.map((f) => f.name), rows: numeric.some(Boolean) ? rows.map((r) => r.map((v, i) => (numeric[i] ? exact(v) : v))) : rows };
}

/** An answer's rows as objects keyed by column name. */
export function answerRows(a: QueryAnswer): Record<string, unknown>[] {
  return a.rows.map((r) => Object.fromEntries(a.columns.map((c, i) => [c, r[i]])));
}

/** Runs `fn`; a SQL error in the person's statement is their input (exit 2), anything else is the remote's. */
export async function readOnlyAnswer(kind: RemoteKind, fn: () => Promise<QueryAnswer>, factsOf: (err: unknown) => FailureFacts = plainFacts): Promise<QueryAnswer> {
  try {
    return await fn();
  } catch (err) {
    const facts = factsOf(err);
    // Login and database errors (28, 3D) are the connection's, not the statement's.
    const connecting = facts.sqlstate !== undefined && ['28', '3D'].includes(facts.sqlstate.slice(0, 2));
    if (facts.sqlstate && !facts.networkCode && !connecting && !isTransientSqlState(facts.sqlstate)) {
      const readOnly = facts.sqlstate === '25006' ? ' (remote query is read-only)' : '';
      throw new InputError(`the remote refused the query: ${facts.message}${readOnly}`);
    }
    throw classifyFailure(kind, facts);
  }
}

function plainFacts(err: unknown): FailureFacts {
  const e = err as { message?: string; code?: string };
  return { message: e.message ?? String(err), sqlstate: isSqlState(e.code) ? e.code : undefined };
}
