/**
 * A test file that leaves something running fails (STYLE.md: a test fails if it leaks a worker
 * thread, a timer, a child process or a connection). Each test file runs in a process of its own
 * (pool forks), so what is still open once its last afterAll has run was opened by it: timers,
 * sockets, servers, child processes (Node's active resources) and worker threads (which Node does
 * not list there; the process's 'worker' event counts them). Things that close asynchronously get
 * a moment to finish closing before they count.
 */
import type { Worker } from 'node:worker_threads';
import { afterAll } from 'vitest';
import { scaled } from './wait.ts';

const LEAKABLE = new Set(['Timeout', 'Immediate', 'TCPWrap', 'TCPServerWrap', 'ProcessWrap', 'UDPWrap', 'FSEventWrap', 'StatWatcher', 'TLSWrap']);

const running = new Set<Worker>();
process.on('worker', (w: Worker) => {
  running.add(w);
  w.once('exit', () => running.delete(w));
});

function census(): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) if (LEAKABLE.has(r)) out.set(r, (out.get(r) ?? 0) + 1);
  return out;
}

// What the runner itself holds before any test runs (its IPC channel, its own timers).
const baseline = census();

function leaks(): string[] {
  const out: string[] = [];
  for (const [kind, n] of census()) {
    const extra = n - (baseline.get(kind) ?? 0);
    if (extra > 0) out.push(`${extra} × ${kind}`);
  }
  if (running.size > 0) out.push(`${running.size} × worker thread`);
  return out;
}

// Registered before the file's own hooks, so it runs after all of them.
afterAll(async () => {
  const end = Date.now() + scaled(1000);
  let left = leaks();
  while (left.length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    left = leaks();
  }
  if (left.length > 0) {
    throw new Error(`this test file left running: ${left.join(', ')}. Stop daemons, end pools and clients, clear timers, terminate workers and kill child processes in afterAll/finally.`);
  }
});
