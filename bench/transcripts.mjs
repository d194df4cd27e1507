// Reading coding-agent transcripts for tokens and cost (src/hooks/transcript.ts, src/store/usage.ts):
//  - 1,000 sessions' transcripts read by `catchUp`, against a floor measured in the same run: a
//    bare reader of the same files (read whole, split into lines, the usage lines parsed) that
//    inserts the responses into an identical table, one transaction per file, fsynced as ccm-sync's
//    are; and the same sessions recorded by a running daemon from the spool: its CPU and peak RSS;
//  - one 100 MB transcript read by `catchUp` in a process of its own: peak RSS over the same
//    process reading nothing.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openLocal } from '../dist/local.js';
import { spoolDir, spoolPayload } from '../dist/hooks/spool.js';
import { now, peakRssMiB, scratchEnv, startDaemon, until } from './lib.mjs';

const SESSIONS = Number(process.env.CCM_BENCH_SESSIONS ?? 1000);
const RESPONSES = 20;

/** A session as Claude Code writes it: per response a tool result (2 KB) and two assistant lines (one per block). */
function writeSession(file, session, t0) {
  const lines = [];
  for (let i = 0; i < RESPONSES; i++) {
    const at = new Date(t0 + 1000 + i * 100).toISOString();
    const usage = { input_tokens: 100 + i, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 2000 };
    const base = { type: 'assistant', timestamp: at, sessionId: session, requestId: `req_${session}_${i}`, gitBranch: 'main', isSidechain: false };
    lines.push(JSON.stringify({ type: 'user', timestamp: at, sessionId: session, message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: `t${i}`, content: 'x'.repeat(2048) }] } }));
    lines.push(JSON.stringify({ ...base, message: { id: `msg_${session}_${i}`, model: 'claude-sonnet-4-5-20250929', content: [{ type: 'thinking', thinking: 'hmm' }], usage } }));
    lines.push(JSON.stringify({ ...base, message: { id: `msg_${session}_${i}`, model: 'claude-sonnet-4-5-20250929', content: [{ type: 'text', text: 'done' }], usage: { ...usage, output_tokens: 60 } } }));
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/** The floor: the least any reader that keeps what it read does with these files. */
function bareRead(files, dbFile) {
  const db = new Database(dbFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`CREATE TABLE usage (key TEXT PRIMARY KEY, session_id TEXT, at TEXT, model TEXT, input INTEGER, output INTEGER, cw INTEGER, cr INTEGER) WITHOUT ROWID;
           CREATE TABLE cursors (path TEXT PRIMARY KEY, offset INTEGER) WITHOUT ROWID`);
  const put = db.prepare('INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET output = max(output, excluded.output)');
  const cursor = db.prepare('INSERT OR REPLACE INTO cursors VALUES (?, ?)');
  const t0 = now();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    db.transaction(() => {
      for (const line of text.split('\n')) {
        if (!line.includes('"usage"')) continue;
        const e = JSON.parse(line);
        const u = e.message.usage;
        put.run(`${e.message.id}:${e.requestId}`, e.sessionId, e.timestamp, e.message.model, u.input_tokens, u.output_tokens, u.cache_creation_input_tokens, u.cache_read_input_tokens);
      }
      cursor.run(f, text.length);
    }).immediate();
  }
  const ms = now() - t0;
  db.close();
  return ms;
}

const cpuMs = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
};

async function thousandSessions(db) {
  const env = scratchEnv({ remote: { kind: 'postgres' }, sync: { intervals: { default: 3600 } } }, { CCM_SYNC_DATABASE_URL: db.url });
  const dir = path.join(env.dir, 'projects');
  mkdirSync(dir, { recursive: true });
  const t0 = Date.now() - 3_600_000;
  const files = [];
  for (let s = 0; s < SESSIONS; s++) {
    const session = `bench-session-${s}`;
    const file = path.join(dir, `${session}.jsonl`);
    writeSession(file, session, t0 + s);
    files.push(file);
  }
  const floorMs = bareRead(files, path.join(env.dir, 'floor.db'));
  const reader = scratchEnv({});
  const ours = openLocal(reader.settings);
  const c0 = now();
  ours.usage.catchUp(files, new Date().toISOString());
  const catchUpMs = now() - c0;
  ours.close();
  reader.cleanup();
  const local = openLocal(env.settings);
  const daemon = await startDaemon(env.env);
  try {
    const cpu0 = cpuMs(daemon.pid);
    const w0 = now();
    const spool = spoolDir(env.settings.paths.home);
    for (let s = 0; s < SESSIONS; s++) {
      const base = { session_id: `bench-session-${s}`, transcript_path: files[s], cwd: '/bench' };
      spoolPayload(spool, JSON.stringify({ ...base, hook_event_name: 'UserPromptSubmit', prompt_id: `p${s}` }), undefined, t0 + s);
      spoolPayload(spool, JSON.stringify({ ...base, hook_event_name: 'Stop', prompt_id: `p${s}` }), undefined, t0 + s + 5000);
    }
    await until(() => local.db.prepare('SELECT count(*) AS n FROM transcript_usage').get().n === SESSIONS * RESPONSES && readdirSync(spool).filter((n) => n.endsWith('.json')).length === 0, 'the transcripts to be read', 600_000, 100);
    const wallMs = now() - w0;
    const cpu = cpuMs(daemon.pid) - cpu0;
    const bytes = files.reduce((a, f) => a + readFileSync(f).length, 0);
    return {
      sessions: SESSIONS, responses: SESSIONS * RESPONSES, mib: Math.round(bytes / 2 ** 20), floor_ms: floorMs, catch_up_ms: catchUpMs, ratio: floorMs / catchUpMs,
      daemon_wall_s: wallMs / 1000, daemon_cpu_s: cpu / 1000, peak_rss_mib: Math.round(peakRssMiB(daemon.pid)),
    };
  } finally {
    await daemon.stop();
    local.close();
    env.cleanup();
  }
}

/** One child process: catchUp on a file (or none), reporting its peak RSS. */
const CHILD = `
  const { openLocal } = await import(${JSON.stringify(new URL('../dist/local.js', import.meta.url).href)});
  const { loadSettings } = await import(${JSON.stringify(new URL('../dist/config/load.js', import.meta.url).href)});
  const local = openLocal(loadSettings({ configPath: process.env.CCM_SYNC_CONFIG }));
  const file = process.argv[1];
  const n = file ? local.usage.catchUp([file], new Date().toISOString()) : 0;
  const hwm = /VmHWM:\\s+(\\d+) kB/.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'))[1];
  console.log(JSON.stringify({ n, peak_mib: Number(hwm) / 1024 }));
`;

function bigTranscript() {
  const env = scratchEnv({});
  try {
    const file = path.join(env.dir, 'big.jsonl');
    const chunk = `${JSON.stringify({ type: 'user', message: { content: [{ type: 'tool_result', content: 'y'.repeat(64 * 1024) }] } })}\n`;
    const resp = (i) => `${JSON.stringify({ type: 'assistant', timestamp: new Date().toISOString(), sessionId: 'big', requestId: `r${i}`, message: { id: `m${i}`, model: 'claude-sonnet-4-5', usage: { input_tokens: 1, output_tokens: 1 } } })}\n`;
    let size = 0;
    for (let i = 0; size < 100 * 2 ** 20; i++) {
      const part = chunk.repeat(16) + resp(i);
      appendFileSync(file, part);
      size += part.length;
    }
    // One line of 40 MB too: a tool result no usage line ever is; read past, never held whole.
    appendFileSync(file, `${JSON.stringify({ type: 'user', message: { content: 'z'.repeat(40 * 2 ** 20) } })}\n`);
    const run = (arg) => JSON.parse(spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, ...(arg ? [arg] : [])], { env: env.env, encoding: 'utf8' }).stdout);
    const idle = run(undefined);
    const read = run(file);
    return { mib: Math.round((size + 40 * 2 ** 20) / 2 ** 20), responses: read.n, peak_rss_mib: Math.round(read.peak_mib), idle_rss_mib: Math.round(idle.peak_mib), over_idle_mib: Math.round(read.peak_mib - idle.peak_mib) };
  } finally {
    env.cleanup();
  }
}

export async function benchTranscripts(db) {
  return { thousand: await thousandSessions(db), big: bigTranscript() };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(bigTranscript()));
