/**
 * Settling what is held back, by hand: dead letters (operations the remote refused for good, or
 * that could not be packaged) are retried or discarded by a person. The CLI (`ccm-sync failed`),
 * the dashboard and the daemon's API all call these.
 *
 * Retrying re-sends the same data. When the reason it failed says the same data would be refused
 * again (a permanent SQLSTATE, a record the contract now refuses, a record still over the byte
 * cap), the retry still happens but comes with a warning that says what to change first.
 * Discarding never deletes: the operation stays in the outbox as 'discarded', with who and when.
 */
import { contractProblems, tableSpec } from './catalog.ts';
import { isPermanentRejection } from './remote/transport.ts';
import type { Local } from './local.ts';
import type { Settings } from './config/load.ts';
import type { FailedDetail } from './store/review.ts';

export interface RetryOutcome {
  requeued: number[];
  /** Ids given that are not dead letters. */
  not_failed: string[];
  warnings: string[];
}

/** Resolves ids (outbox id or op_id) to dead letters; the rest are reported as not found. */
function resolve(local: Local, ids: readonly string[]): { found: FailedDetail[]; missing: string[] } {
  const found: FailedDetail[] = [];
  const missing: string[] = [];
  for (const id of ids) {
    const row = local.review.find(id);
    if (row && row.status === 'failed') found.push(row);
    else missing.push(id);
  }
  return { found, missing };
}

/** Why retrying this dead letter as it is would fail the same way, or undefined. */
export function sameFailureAhead(row: FailedDetail, settings: Pick<Settings, 'sync'>): string | undefined {
  const spec = tableSpec(row.table_name);
  if (spec && row.record_data) {
    const problems = contractProblems(spec, row.record_id, JSON.parse(row.record_data) as Record<string, unknown>, { strictColumns: settings.sync.strict_columns });
    if (problems.length) return `#${row.id} would be refused at enqueue today: ${problems.join('; ')}. Record a corrected operation and discard this one`;
  }
  if (row.error_code === 'CCM03' && row.record_data && Buffer.byteLength(row.record_data) + 512 > settings.sync.max_bytes_per_request) {
    return `#${row.id} is still over sync.max_bytes_per_request (${settings.sync.max_bytes_per_request} bytes); raise it first, or discard the operation`;
  }
  if (isPermanentRejection(row.error_code ?? undefined) && row.error_code !== 'CCM03') {
    return `#${row.id} was refused by the remote (${row.error_code}) and is sent again unchanged: it fails the same way unless the remote changed since (for example the missing column was added). To change the data, record a corrected operation and \`ccm-sync failed discard ${row.id}\``;
  }
  return undefined;
}

/** Moves dead letters back to pending with a fresh retry budget; `all` takes every one. */
export function retryFailed(local: Local, settings: Pick<Settings, 'sync'>, ids: readonly string[] | 'all'): RetryOutcome {
  const { found, missing } = ids === 'all' ? { found: local.review.failed(Number.MAX_SAFE_INTEGER) as FailedDetail[], missing: [] } : resolve(local, ids);
  const warnings: string[] = [];
  for (const row of found) {
    const detail = ids === 'all' ? local.review.find(String(row.id)) : row;
    const why = detail && sameFailureAhead(detail, settings);
    if (why) warnings.push(why);
  }
  const requeued = local.review.retry(found.map((r) => r.id));
  return { requeued, not_failed: missing, warnings };
}

/** Discards dead letters, keeping them as 'discarded' with who and when. */
export function discardFailed(local: Local, ids: readonly string[], by: string): { discarded: number[]; not_failed: string[] } {
  const { found, missing } = resolve(local, ids);
  const discarded = local.review.discard(found.map((r) => r.id), by, new Date(local.clock.now()).toISOString());
  return { discarded, not_failed: missing };
}
