/**
 * `ccm-sync remote query`: one read-only statement on the remote, for a person to look at what
 * arrived. Both transports run it in a read-only transaction with a statement timeout, over the
 * extended protocol (one statement: a `; commit; delete …` tail is refused by the server).
 */
import { InputError } from '../errors.ts';
import { classifyFailure, isSqlState, isTransientSqlState, type FailureFacts, type RemoteKind } from './transport.ts';

export interface QueryAnswer {
  columns: string[];
  rows: unknown[][];
}

/** Runs `fn`; a SQL error in the person's statement is their input (exit 2), anything else is the remote's. */
export async function readOnlyAnswer(kind: RemoteKind, fn: () => Promise<QueryAnswer>, factsOf: (err: unknown) => FailureFacts = plainFacts): Promise<QueryAnswer> {
  try {
    return await fn();
  } catch (err) {
    const facts = factsOf(err);
    if (facts.sqlstate && !facts.networkCode && !isTransientSqlState(facts.sqlstate)) {
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
