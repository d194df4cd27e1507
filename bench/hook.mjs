// Claude Code hooks: one `ccm-sync hook claude` process against bare `node -e ''` (the floor: what
// any Node hook costs), the daemon's POST /api/hooks/claude, and recording a spooled backlog.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { drainSpool } from '../dist/hooks/spool-drain.js';
import { spoolDir, spoolPayload } from '../dist/hooks/spool.js';
import { openLocal } from '../dist/local.js';
import { CLI, median, now, percentile, scratchEnv, startDaemon } from './lib.mjs';

const CORPUS = readFileSync(new URL('../test/fixtures/claude-code/payloads.jsonl', import.meta.url), 'utf8').trim().split('\n');

function processCost(env) {
  const bare = [];
  const hook = [];
  const time = (args, input) => {
    const t0 = now();
    const r = spawnSync(process.execPath, args, { env: env.env, input });
    if (r.status !== 0) throw new Error(`bench: ${args.join(' ')} failed: ${r.stderr}`);
    return now() - t0;
  };
  time([CLI, 'hook', 'claude'], CORPUS[3]); // the compile cache
  for (let i = 0; i < 40; i++) {
    bare.push(time(['-e', ''], ''));
    hook.push(time([CLI, 'hook', 'claude'], CORPUS[i % CORPUS.length]));
  }
  return { bare_median_ms: median(bare), hook_median_ms: median(hook), hook_p95_ms: percentile(hook, 95), overhead_median_ms: median(hook) - median(bare) };
}

async function routeCost(db) {
  const env = scratchEnv({ remote: { kind: 'postgres' }, sync: { intervals: { default: 3600 } } }, { CCM_SYNC_DATABASE_URL: db.url });
  const daemon = await startDaemon(env.env);
  const local = openLocal(env.settings);
  try {
    const token = readFileSync(env.settings.paths.tokenFile, 'utf8').trim();
    const url = `http://127.0.0.1:${local.state.get('daemon').port}/api/hooks/claude`;
    const handled = [];
    const post = async (body) => {
      const t0 = now();
      const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
      await res.arrayBuffer();
      if (res.status !== 204) throw new Error(`bench: the hook route answered ${res.status}`);
      handled.push(Number(/dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '')?.[1]));
      return now() - t0;
    };
    for (let i = 0; i < 50; i++) await post(CORPUS[i % CORPUS.length]);
    handled.length = 0;
    const times = [];
    for (let i = 0; i < 1000; i++) times.push(await post(CORPUS[i % CORPUS.length]));
    return { requests: times.length, p50_ms: median(handled), p95_ms: percentile(handled, 95), round_trip_p50_ms: median(times), round_trip_p95_ms: percentile(times, 95) };
  } finally {
    local.close();
    await daemon.stop();
    env.cleanup();
  }
}

function backlogCost() {
  const env = scratchEnv({});
  const home = env.settings.paths.home;
  const n = 10_000;
  for (let i = 0; i < n; i++) spoolPayload(spoolDir(home), CORPUS[i % CORPUS.length], undefined, Date.now());
  const local = openLocal(env.settings);
  try {
    const t0 = now();
    const r = drainSpool(home, local);
    const s = (now() - t0) / 1000;
    if (r.recorded !== n) throw new Error(`bench: recorded ${r.recorded} of ${n} spooled events`);
    return { events: n, seconds: s, events_per_s: Math.round(n / s) };
  } finally {
    local.close();
    env.cleanup();
  }
}

export async function benchHook(db) {
  const env = scratchEnv({});
  try {
    return { process: processCost(env), route: await routeCost(db), backlog: backlogCost() };
  } finally {
    env.cleanup();
  }
}
