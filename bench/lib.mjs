// Shared helpers for the benchmarks: a scratch Postgres database, a scratch ccm-sync directory,
// timing, percentiles and a child `ccm-sync start`.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { stringify } from 'yaml';
import { loadSettings } from '../dist/config/load.js';
import { migrateRemote } from '../dist/remote/migrations.js';

export const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const PG = process.env.CCM_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432';

export async function scratchDatabase() {
  const name = `ccm_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${PG}/postgres` });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = `${PG}/${name}`;
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  await migrateRemote({ exec: async (sql) => void (await pool.query(sql)), query: async (sql, p) => (await pool.query(sql, p)).rows });
  return {
    url,
    pool,
    query: async (sql, p) => (await pool.query(sql, p)).rows,
    async drop() {
      await pool.end();
      const a = new pg.Client({ connectionString: `${PG}/postgres` });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

export function scratchEnv(config, env = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ccm-bench-'));
  mkdirSync(path.join(dir, '.ccm-global'));
  const configPath = path.join(dir, '.ccm-global', 'config.yaml');
  const systemId = `bench-${randomBytes(3).toString('hex')}`;
  writeFileSync(configPath, stringify({ system: { id: systemId }, log_level: 'silent', api: { port: 0 }, ...config }));
  const childEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...env, CCM_SYNC_CONFIG: configPath };
  return { dir, configPath, systemId, env: childEnv, settings: loadSettings({ configPath, env: childEnv }), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const now = () => performance.now();

export function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export function median(values) {
  return percentile(values, 50);
}

export function runSync_(args, env) {
  return spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
}

export async function until(check, what, timeoutMs = 600_000, everyMs = 20) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `ccm-sync start` as a child process; resolves once its API answers. */
export async function startDaemon(env) {
  const child = spawn(process.execPath, [CLI, 'start', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (/"port"/.test(out)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`daemon exited ${code}: ${err}`)));
  });
  const exited = new Promise((r) => child.on('exit', r));
  return {
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Peak resident memory of a process so far (VmHWM), in MiB. */
export function peakRssMiB(pid) {
  const status = spawnSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }).stdout;
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}
