/**
 * Regression tests for our patch of liteque 0.8.0 (patches/liteque+0.8.0.patch) with
 * better-sqlite3 13. Each would fail on the unpatched package.
 */
import { until as untilHolds } from './helpers/wait.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/backoff.ts';
import { SyncJobs } from '../src/jobs/sync-jobs.ts';
import type { SyncJobPayload } from '../src/types.ts';

const dirs: string[] = [];
function jobsFile(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ccm-liteque-'));
  dirs.push(dir);
  return path.join(dir, 'jobs.db');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const until = (cond: () => boolean | Promise<boolean>) => untilHolds(cond, 'the job runner to get there', 10_000, 20);

const payload: SyncJobPayload = { trigger: 'periodic', reason: 'test' };
const rows = (file: string) => new Database(file, { readonly: true }).prepare('SELECT status, availableAt, createdAt, numRunsLeft FROM tasks').all() as { status: string; availableAt: number; createdAt: number; numRunsLeft: number }[];

describe('patched liteque', () => {
  it('dequeues and runs a job (upstream: "Transaction function cannot return a promise", job stuck in running)', async () => {
    const file = jobsFile();
    const jobs = new SyncJobs({ file, attempts: 3, backoff: { base_delay_ms: 10, max_delay_ms: 10, jitter: 0 }, timeoutMs: 5000 });
    const ran: string[] = [];
    jobs.start(async (p) => ran.push(p.trigger));
    await jobs.enqueue(payload);
    await until(() => ran.length === 1);
    await until(async () => (await jobs.stats()).running === 0);
    expect(rows(file)).toEqual([]);
    await jobs.stop();
  });

  it('backs off before a retry (upstream retries at once)', async () => {
    const file = jobsFile();
    const jobs = new SyncJobs({ file, attempts: 3, backoff: { base_delay_ms: 60_000, max_delay_ms: 60_000, jitter: 0 }, timeoutMs: 5000 });
    let runs = 0;
    jobs.start(async () => {
      runs++;
      throw new Error('remote down');
    });
    const before = Date.now();
    await jobs.enqueue(payload);
    await until(() => rows(file)[0]?.status === 'pending_retry');
    const [row] = rows(file);
    expect(row!.availableAt).toBeGreaterThanOrEqual(before + 59_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(runs).toBe(1);
    await jobs.stop();
  });

  it('keeps a trigger that arrives while a sync runs (upstream drops it: same idempotency key)', async () => {
    const file = jobsFile();
    const jobs = new SyncJobs({ file, attempts: 1, backoff: { base_delay_ms: 0, max_delay_ms: 0, jitter: 0 }, timeoutMs: 5000 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ran: string[] = [];
    jobs.start(async (p) => {
      ran.push(p.reason);
      if (ran.length === 1) await gate;
    });
    await jobs.enqueue({ ...payload, reason: 'first' });
    await until(() => ran.length === 1);
    expect(await jobs.enqueue({ ...payload, reason: 'during' })).toBeDefined();
    expect(await jobs.enqueue({ ...payload, reason: 'coalesced' })).toBeUndefined();
    release();
    await until(() => ran.length === 2);
    expect(ran).toEqual(['first', 'during']);
    await jobs.stop();
  });

  it('clears its timeout timer when a job finishes (upstream leaks one per job)', async () => {
    const file = jobsFile();
    const jobs = new SyncJobs({ file, attempts: 1, backoff: { base_delay_ms: 0, max_delay_ms: 0, jitter: 0 }, timeoutMs: 3_600_000 });
    let done = 0;
    jobs.start(async () => {
      done++;
    });
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    for (let i = 0; i < 5; i++) {
      await jobs.enqueue({ ...payload, reason: String(i) });
      await until(() => done === i + 1);
    }
    await jobs.stop();
    const timersAfter = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(timersAfter).toBeLessThanOrEqual(timersBefore);
  });

  it('orders jobs created within one second by creation (upstream: one-second createdAt)', async () => {
    const file = jobsFile();
    const jobs = new SyncJobs({ file, attempts: 1, backoff: { base_delay_ms: 0, max_delay_ms: 0, jitter: 0 }, timeoutMs: 5000 });
    for (const t of ['manual', 'retry', 'drain'] as const) void jobs.queue.enqueue({ trigger: t, reason: t }, { priority: 0 });
    await until(() => rows(file).length === 3);
    const created = rows(file).map((r) => r.createdAt);
    expect(created.every((c) => c > 1e12)).toBe(true); // milliseconds, not seconds
    const ran: string[] = [];
    jobs.start(async (p) => ran.push(p.trigger));
    await until(() => ran.length === 3);
    expect(ran).toEqual(['manual', 'retry', 'drain']);
    await jobs.stop();
  });

  it('computes capped exponential backoff with bounded jitter', () => {
    const o = { base_delay_ms: 1000, max_delay_ms: 30_000, jitter: 0.2 };
    expect(backoffDelay(1, o, () => 0.5)).toBe(1000);
    expect(backoffDelay(3, o, () => 0.5)).toBe(4000);
    expect(backoffDelay(10, o, () => 0.5)).toBe(30_000);
    expect(backoffDelay(3, o, () => 0)).toBe(3200);
    expect(backoffDelay(3, o, () => 0.999)).toBeLessThanOrEqual(4800);
  });
});
