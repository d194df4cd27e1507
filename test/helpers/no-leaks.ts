/**
 * A test file that leaves something running fails (the house style: a test fails if it leaks a worker
 * thread, a timer, a child process or a connection). Each test file runs in a process of its own
 * (pool forks), so what is still open once its last afterAll has run was opened by it: timers,
 * sockets, servers, child processes (Node's active resources) and worker threads (which Node does
 * not list there; the process's 'worker' event counts them). Things that close asynchronously get
 * a moment to finish closing before they count.
 */
import { createHook } from 'node:async_hooks';
import type { Worker } from 'node:worker_threads';
import { afterAll } from 'vitest';
import { runFileEnd } from './file-end.ts';
import { scaled } from './wait.ts';

const LEAKABLE = new Set(['Timeout', 'Immediate', 'TCPWrap', 'TCPServerWrap', 'ProcessWrap', 'UDPWrap', 'FSEventWrap', 'StatWatcher', 'TLSWrap']);

// Where each live timer, socket and child was made, so a leak names the line that made it.
const TRACKED = new Set(['Timeout', 'TCPWRAP', 'TCPSERVERWRAP', 'PROCESSWRAP']);
const origins = new Map<number, { type: string; stack: string }>();
createHook({
  init(id, type) {
    if (TRACKED.has(type)) origins.set(id, { type, stack: new Error().stack ?? '' });
  },
  destroy(id) {
    origins.delete(id);
  },
}).enable();

/** A creation stack without this hook's own frames. */
function framesOf(stack: string): string[] {
  return stack
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter((f) => !f.includes('AsyncHook.init') && !f.includes('node:internal/async_hooks'));
}

/** Made by the runner or by this check itself, not by the test file. */
function ours(frames: string[]): boolean {
  return frames.some((f) => f.includes('no-leaks.ts') || f.includes('node_modules/vitest/'));
}

/** The first frame that is this project's code, else the first outside Node (a dependency's). */
function origin(frames: string[]): string {
  const outside = frames.filter((f) => !f.includes('node:'));
  return outside.find((f) => !f.includes('node_modules')) ?? outside[0] ?? frames[0] ?? '?';
}

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
  await runFileEnd(); // the file's fixtures (./fixtures.ts), which vitest would tear down after this
  const end = Date.now() + scaled(1000);
  let left = leaks();
  while (left.length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    left = leaks();
  }
  if (left.length > 0) {
    const made = [...origins.values()].map((o) => ({ type: o.type, frames: framesOf(o.stack) })).filter((o) => !ours(o.frames));
    const where = [...new Set(made.map((o) => `${o.type} made ${origin(o.frames)}`))].slice(0, 10);
    throw new Error(`this test file left running: ${left.join(', ')}. Stop daemons, end pools and clients, clear timers, terminate workers and kill child processes in afterAll/finally.\nStill alive (made where):\n  ${where.join('\n  ')}`);
  }
});
