/**
 * `ccm-sync failed list|show|retry|discard`: dead letters, with their reasons, and what a person
 * does about them. Everything goes through ../../repair.ts; this file only prints.
 */
import { hostname, userInfo } from 'node:os';
import { InputError } from '../../errors.ts';
import { discardFailed, retryFailed } from '../../repair.ts';
import { ago, emit, type GlobalOptions } from '../output.ts';
import { lookLocal, repairLocal } from '../with-local.ts';
import type { Settings } from '../../config/load.ts';
import type { FailedRow } from '../../store/review.ts';

const line = (f: FailedRow, now: number) =>
  `#${f.id} ${f.operation} ${f.table_name}/${f.record_id} · ${f.status === 'discarded' ? `discarded ${ago(f.discarded_at, now)} by ${f.discarded_by}` : `failed ${ago(f.failed_at, now)}`}${f.error_code ? ` · ${f.error_code}` : ''}\n    ${f.error_message ?? '(no reason recorded)'}`;

export const failedListCommand = (opts: GlobalOptions & { discarded?: boolean; limit: number }) =>
  lookLocal(opts, async (_settings, local) => {
    const rows = opts.discarded ? local.review.discarded(opts.limit) : local.review.failed(opts.limit);
    const total = local.outbox.heldBack().failed;
    const reasons = opts.discarded ? [] : local.review.failedReasons(10);
    emit(opts, { failed: total, reasons, operations: rows }, () => {
      if (rows.length === 0) return opts.discarded ? 'no discarded operations' : 'no failed operations';
      const head = opts.discarded
        ? `${rows.length} discarded operation(s), newest first:`
        : `${total} failed operation(s). Reasons:\n${reasons.map((r) => `  ${r.count} × ${r.message}`).join('\n')}\n\nNewest first:`;
      return `${head}\n${rows.map((r) => line(r, Date.now())).join('\n')}\n\nNext: ccm-sync failed show ID · failed retry ID|--all · failed discard ID --yes`;
    });
  });

export const failedShowCommand = (id: string, opts: GlobalOptions) =>
  lookLocal(opts, async (_settings, local) => {
    const row = local.review.find(id);
    if (!row) throw new InputError(`no failed or discarded operation with id ${id}; see \`ccm-sync failed list\``);
    const data = row.record_data ? JSON.parse(row.record_data) as unknown : null;
    emit(opts, { ...row, record_data: data }, () => [
      line(row, Date.now()),
      `  op_id: ${row.op_id} · priority ${row.priority} · changed ${row.changed_at} · recorded ${row.created_at} · ${row.retry_count} upload(s)`,
      `  record_data: ${JSON.stringify(data, null, 2).split('\n').join('\n  ')}`,
    ].join('\n'));
  });

/** Names operations that are not failed (or do not exist): exit 2, as an error (JSON with --json). */
function notFailed(ids: string[], settings?: Settings): InputError {
  const where = settings ? ` (nothing is recorded in ${settings.paths.home} yet; \`ccm-sync where\` shows the home in use)` : '';
  return new InputError(`no failed operation with id ${ids.join(', ')}${where}; \`ccm-sync failed list\` shows the failed ones`);
}

function checkRetryArgs(ids: string[], opts: { all?: boolean }): void {
  if (!opts.all && ids.length === 0) throw new InputError('name the operations to retry (ids from `ccm-sync failed list`), or pass --all');
  if (opts.all && ids.length) throw new InputError('give ids or --all, not both');
}

export const failedRetryCommand = (ids: string[], opts: GlobalOptions & { all?: boolean }) =>
  repairLocal(opts, async (settings, local) => {
    checkRetryArgs(ids, opts);
    const out = retryFailed(local, settings, opts.all ? 'all' : ids);
    if (out.not_failed.length && !out.requeued.length) throw notFailed(out.not_failed);
    for (const w of out.warnings.slice(0, 5)) process.stderr.write(`warning: ${w}\n`);
    if (out.warnings.length > 5) process.stderr.write(`warning: … and ${out.warnings.length - 5} more like these\n`);
    emit(opts, out, () => [
      out.requeued.length ? `re-queued ${out.requeued.length} operation(s); they go up with the next sync (\`ccm-sync sync now\`)` : 'nothing re-queued',
      ...(out.not_failed.length ? [`not failed operations (skipped): ${out.not_failed.join(', ')}`] : []),
    ].join('\n'));
  }, (settings) => {
    checkRetryArgs(ids, opts);
    if (!opts.all) throw notFailed(ids, settings);
    emit(opts, { requeued: [], not_failed: [], warnings: [] }, () => 'nothing re-queued');
  });

function checkDiscardArgs(ids: string[], opts: { yes?: boolean }): void {
  if (ids.length === 0) throw new InputError('name the operations to discard (ids from `ccm-sync failed list`)');
  if (!opts.yes) throw new InputError(`discarding gives up on ${ids.length} operation(s) for good (they stay in the outbox as 'discarded'); pass --yes to confirm`);
}

export const failedDiscardCommand = (ids: string[], opts: GlobalOptions & { yes?: boolean; by?: string }) =>
  repairLocal(opts, async (_settings, local) => {
    checkDiscardArgs(ids, opts);
    const by = opts.by ?? `${userInfo().username}@${hostname()}`;
    const out = discardFailed(local, ids, by);
    if (out.not_failed.length && !out.discarded.length) throw notFailed(out.not_failed);
    emit(opts, { ...out, by }, () => [
      `discarded ${out.discarded.length} operation(s) (by ${by}); \`ccm-sync failed list --discarded\` shows them`,
      ...(out.not_failed.length ? [`not failed operations (skipped): ${out.not_failed.join(', ')}`] : []),
    ].join('\n'));
  }, (settings) => {
    checkDiscardArgs(ids, opts);
    throw notFailed(ids, settings);
  });
