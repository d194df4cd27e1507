/**
 * `ccm-sync sync now|drain|status|health` (`sync retry-failed` is ./failed.ts). `now` and `drain` ask a running daemon;
 * with none running they sync in this process, through the same runSync the worker thread uses.
 */
import { heartbeatOf } from '../../monitor/heartbeat.ts';
import { drainSpool } from '../../hooks/spool-drain.ts';
import { DaemonUnreachableError, InputError, messageOf } from '../../errors.ts';
import { syncContext, type Local } from '../../local.ts';
import type { Settings } from '../../config/load.ts';
import { statusSnapshot } from '../../monitor/status.ts';
import { openTransport } from '../../remote/index.ts';
import { runSync, type SyncProgress } from '../../workers/sync-run.ts';
import { findDaemon } from '../../daemon/client.ts';
import { lookLocal, withLocal } from '../with-local.ts';
import { statusLines } from '../status-lines.ts';
import { ago, byteChange, bytes, emit, table, type GlobalOptions } from '../output.ts';
import type { HeldBack, SyncJobPayload, SyncResult } from '../../types.ts';

/** Runs one sync in this process. */
export async function syncInProcess(settings: Settings, local: Local, job: SyncJobPayload, onProgress?: (p: SyncProgress) => void): Promise<SyncResult> {
  const transport = await openTransport(settings);
  try {
    return await runSync(syncContext(local, settings, transport, { onProgress, heartbeat: () => heartbeatOf(local, settings) }), job);
  } finally {
    await transport.close();
  }
}

/** The design's answer: {status: "synced", operations_synced, duration_ms} or nothing_to_sync. */
function designResult(r: SyncResult, via: string) {
  const { status, operations_synced, duration_ms, ...details } = r;
  return { status, operations_synced, duration_ms, via, details };
}

/** The held-back part of a sync's answer: what waits, what failed, and why. */
export function heldLines(h: HeldBack | undefined, nowMs = Date.now()): string[] {
  if (!h) return [];
  const reasons = (list: HeldBack['failed_reasons']) => list.slice(0, 3).map((x) => `    ${x.count} × ${x.message}`);
  const out: string[] = [];
  if (h.waiting) out.push(`  ${h.waiting} waiting to be retried (next try ${ago(h.next_attempt_at, nowMs)}); last error:`, ...reasons(h.waiting_reasons));
  const other = h.pending - h.waiting;
  if (other > 0) out.push(`  ${other} pending beyond this sync's limits`);
  if (h.failed) out.push(`  ${h.failed} failed (dead letters, not retried): see \`ccm-sync failed list\``, ...reasons(h.failed_reasons));
  if (h.conflicts) out.push(`  ${h.conflicts} held for conflict review: see \`ccm-sync conflicts list\``);
  return out.length ? ['held back:', ...out] : [];
}

/** Anything held back after a sync makes `sync now` and `sync drain` exit 1. */
export function heldBackCount(r: SyncResult): number {
  const h = r.held;
  return r.operations_failed + (h ? h.pending + h.failed + h.conflicts : 0);
}

function resultLine(r: SyncResult, via: string): string {
  if (r.skipped && r.status !== 'failed') return `skipped: ${r.skipped} (${via})`;
  const held = heldLines(r.held);
  if (r.status === 'nothing_to_sync') return held.length ? [`nothing sent (${via})`, ...held].join('\n') : `nothing_to_sync (${via})`;
  const extra = [
    r.operations_stale && `${r.operations_stale} stale`,
    r.operations_conflict && `${r.operations_conflict} conflicts`,
    r.operations_pending_retry && `${r.operations_pending_retry} to retry`,
    r.operations_failed && `${r.operations_failed} failed`,
  ].filter(Boolean).join(', ');
  // "partial" with nothing synced reads as if some went through: say what happened.
  const said = r.status === 'partial' && r.operations_synced === 0 ? 'nothing synced' : r.status;
  return [
    `${said}: ${r.operations_synced} operations in ${r.duration_ms} ms, ${r.batches} batches, ${bytes(r.bytes_sent)} sent (${via})${extra ? `; ${extra}` : ''}${r.error ? `\nerror: ${r.error}` : ''}`,
    ...held,
  ].join('\n');
}

async function progressBar(opts: GlobalOptions): Promise<{ update(p: SyncProgress): void; stop(): void }> {
  if (!process.stderr.isTTY || opts.json) return { update() {}, stop() {} };
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar({ stream: process.stderr, format: 'draining [{bar}] {value}/{total} ops · {batches} batches · {eta_formatted} left', hideCursor: true }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update(p) {
      if (!started) {
        bar.start(p.total, 0, { batches: 0 });
        started = true;
      }
      bar.setTotal(p.total);
      bar.update(p.done, { batches: p.batches });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

async function runOrAsk(opts: GlobalOptions, job: SyncJobPayload, route: string, body?: unknown): Promise<void> {
  await withLocal(opts, async (settings, local) => {
    const daemon = findDaemon(settings, local.state);
    let result: SyncResult | undefined;
    let via = 'this process';
    if (daemon) {
      try {
        result = await daemon.call<SyncResult>('POST', route, body).catch((err: unknown) => {
          // A daemon started before an upgrade takes no options on this route: without them, then.
          if (body === undefined || !InputError.is(err) || !/unknown key/.test(messageOf(err))) throw err;
          process.stderr.write(`ccm-sync: warning: the running daemon is older than this ccm-sync and took none of ${Object.keys(body as object).join(', ')}; restart it (ccm-sync stop, then start)\n`);
          return daemon.call<SyncResult>('POST', route);
        });
        via = `daemon pid ${local.state.get('daemon')?.pid}`;
      } catch (err) {
        if (!DaemonUnreachableError.is(err)) throw err;
      }
    }
    if (!result) {
      // Hook events waiting in the spool go into this sync (a transcript that cannot be read is said once).
      const problems = new Set<string>();
      drainSpool(settings.paths.home, { ...local, onTranscriptProblem: (err) => problems.add(messageOf(err)) });
      for (const error of problems) local.state.set('transcript_problem', { error, at: new Date(local.clock.now()).toISOString() });
      for (const p of problems) process.stderr.write(`warning: a coding-agent transcript could not be read (${p}); task summaries lack its usage until it can\n`);
      const bar = await progressBar(opts);
      try {
        result = await syncInProcess(settings, local, job, (p) => bar.update(p));
      } finally {
        bar.stop();
      }
    }
    emit(opts, designResult(result, via), () => resultLine(result, via));
    if (result.status === 'failed' || heldBackCount(result) > 0) process.exitCode = result.exit_code === 2 ? 2 : 1;
  });
}

export const syncNowCommand = (opts: GlobalOptions) => runOrAsk(opts, { trigger: 'manual', reason: 'ccm-sync sync now' }, '/api/sync/now');

export const syncDrainCommand = (opts: GlobalOptions & { batchSize?: number }) =>
  runOrAsk(opts, { trigger: 'drain', reason: 'ccm-sync sync drain', limits: opts.batchSize ? { batchSize: opts.batchSize } : undefined }, '/api/sync/drain', opts.batchSize ? { batch_size: opts.batchSize } : undefined);


export const syncStatusCommand = (opts: GlobalOptions) =>
  lookLocal(opts, async (settings, local) => {
    const s = statusSnapshot(local, settings, { byTable: true });
    emit(opts, s, () => statusLines(s).join('\n'));
  });

export const syncHealthCommand = (opts: GlobalOptions & { days: number }) =>
  lookLocal(opts, async (_settings, local) => {
    const since = new Date(Date.now() - opts.days * 86_400_000).toISOString().slice(0, 10);
    const days = local.metrics.health(since);
    emit(opts, { days: opts.days, rows: days }, () =>
      days.length === 0
        ? `no syncs in the last ${opts.days} days`
        : table(['Date', 'Syncs', 'Operations', 'Avg Duration', 'Failures', 'Failed ops', 'Uploaded/Recorded'], days.map((d) => [
            d.date, d.syncs, d.operations, `${d.avg_duration_ms} ms`, d.failures, d.failed_operations,
            d.operations_in ? `${d.operations_out}/${d.operations_in} ops, ${byteChange(d.bytes_in, d.bytes_out, 0)}` : '-',
          ])));
  });

