/**
 * A simulated fleet: N systems in a few processes (./fleet-worker.ts), all syncing at once into one
 * remote, and the check that every operation of every system arrived exactly once. Used by
 * test/fleet.test.ts (10 × 500 in CI) and `npm run bench fleet` (100 systems).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export type FleetRemote = { kind: 'postgres'; url: string } | { kind: 'supabase'; url: string; anonKey: string; jwtSecret: string };

export interface FleetOptions {
  systems: number;
  opsPerSystem: number;
  remote: FleetRemote;
  /** Processes to spread the systems over (default: 4, or fewer for a small fleet). */
  processes?: number;
  rounds?: number;
  batch?: number;
  /** Longest random pause between a system's rounds, ms. */
  pauseMs?: number;
  /** System ids are <prefix>-<n>. */
  prefix?: string;
  /**
   * Run the simulated systems at a lower CPU priority (nice 10): they stand in for other machines,
   * so on a shared box they should not starve a system measured alongside them, nor the server.
   */
  nice?: boolean;
  /** Called every `sampleMs` while the fleet runs (connections, ledger rows, lock waits). */
  sample?: () => Promise<void>;
  sampleMs?: number;
}

export interface FleetWorkerConfig {
  dir: string;
  systems: string[];
  opsPerSystem: number;
  rounds: number;
  batch: number;
  pauseMs: number;
  remote: FleetRemote;
  types: string[];
}

export interface SystemResult {
  system_id: string;
  /** Operations recorded, all kinds. */
  recorded: number;
  reports: number;
  alerts: number;
  hook_events: number;
  /** Final progress of each updated task. */
  tasks: Record<string, number>;
  hook_tasks: string[];
  pending: number;
  failed: number;
  syncs: number;
  operations_out: number;
  first_synced_at: number;
  done_at: number;
}

export interface FleetRun {
  systems: SystemResult[];
  /** Recorded operations (hook events, reports, task updates, alerts). */
  operations: number;
  seconds: number;
  ops_per_s: number;
  dir: string;
  cleanup(): void;
}

const WORKER = fileURLToPath(new URL('./fleet-worker.ts', import.meta.url));

function startWorker(config: FleetWorkerConfig, file: string, nice: boolean): { child: ChildProcess; ready: Promise<void>; results: Promise<SystemResult[]> } {
  writeFileSync(file, JSON.stringify(config));
  const [cmd, args] = nice ? ['nice', ['-n', '10', process.execPath, WORKER, file]] : [process.execPath, [WORKER, file]];
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const lines = createInterface({ input: child.stdout! });
  const results: SystemResult[] = [];
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  lines.on('line', (l) => (l === 'ready' ? ready() : results.push(JSON.parse(l) as SystemResult)));
  const done = new Promise<SystemResult[]>((resolve, reject) => {
    child.on('exit', (code) => (code === 0 ? resolve(results) : reject(new Error(`fleet worker exited ${code}: ${stderr.slice(-2000)}`))));
  });
  return { child, ready: Promise.race([readyP, done.then(() => undefined)]), results: done };
}

export async function runFleet(o: FleetOptions): Promise<FleetRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ccm-fleet-'));
  const ids = Array.from({ length: o.systems }, (_, i) => `${o.prefix ?? 'fleet'}-${String(i).padStart(3, '0')}`);
  const k = Math.max(1, Math.min(o.processes ?? 4, o.systems));
  const workers = Array.from({ length: k }, (_, w) => startWorker({
    dir, systems: ids.filter((_, i) => i % k === w), opsPerSystem: o.opsPerSystem, rounds: o.rounds ?? 5, batch: o.batch ?? 500,
    pauseMs: o.pauseMs ?? 20, remote: o.remote, types: ['developer_workstation', 'production_server', 'backup_server'],
  }, path.join(dir, `worker-${w}.json`), o.nice ?? false));
  await Promise.all(workers.map((w) => w.ready));
  const t0 = Date.now();
  let sampling = true;
  const sampler = (async () => {
    while (sampling && o.sample) {
      await o.sample();
      await new Promise((r) => setTimeout(r, o.sampleMs ?? 500));
    }
  })();
  for (const w of workers) w.child.stdin!.end('go\n');
  let systems: SystemResult[];
  try {
    systems = (await Promise.all(workers.map((w) => w.results))).flat();
  } finally {
    sampling = false;
    await sampler;
  }
  const seconds = (Math.max(...systems.map((s) => s.done_at)) - t0) / 1000;
  const operations = systems.reduce((a, s) => a + s.recorded, 0);
  return { systems, operations, seconds, ops_per_s: operations / seconds, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Query {
  <T extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

/** Records every application of a row operation, so a doubled one shows (the crash tests' check). */
export const APPLY_LOG_SQL = `
  create table if not exists public.fleet_apply_log (system_id text not null, op_id uuid not null);
  create or replace function public.fleet_log_apply() returns trigger language plpgsql security definer as $$
    begin insert into public.fleet_apply_log values (new.system_id, new.sync_op_id); return new; end $$;
  do $$ declare t text; begin
    foreach t in array array['supervisory_reports', 'alerts', 'tasks'] loop
      execute format('drop trigger if exists fleet_apply on public.%I', t);
      execute format('create trigger fleet_apply after insert or update on public.%I for each row when (new.sync_op_id is not null) execute function public.fleet_log_apply()', t);
    end loop;
  end $$;`;

export interface FleetCheck {
  lost: string[];
  doubled: number;
  /** Systems with operations still pending or dead-lettered locally. */
  unsettled: string[];
}

/** Every operation of every system on the remote, once: rows, final values, summaries. */
export async function checkFleet(query: Query, systems: readonly SystemResult[]): Promise<FleetCheck> {
  const lost: string[] = [];
  const ids = systems.map((s) => s.system_id);
  const count = async (table: string) => new Map((await query<{ system_id: string; n: string }>(`select system_id, count(*) n from public.${table} where system_id = any($1) group by 1`, [ids])).map((r) => [r.system_id, Number(r.n)]));
  const [reports, alerts] = [await count('supervisory_reports'), await count('alerts')];
  const tasks = await query<{ system_id: string; id: string; progress: number }>('select system_id, id, (extra ->> \'progress\')::int as progress from public.tasks where system_id = any($1)', [ids]);
  const summaries = await query<{ system_id: string; id: string; total_events: number }>('select system_id, id, total_events from public.task_summaries where system_id = any($1)', [ids]);
  for (const s of systems) {
    if ((reports.get(s.system_id) ?? 0) !== s.reports) lost.push(`${s.system_id}: ${reports.get(s.system_id) ?? 0} of ${s.reports} reports`);
    if ((alerts.get(s.system_id) ?? 0) !== s.alerts) lost.push(`${s.system_id}: ${alerts.get(s.system_id) ?? 0} of ${s.alerts} alerts`);
    for (const [id, progress] of Object.entries(s.tasks)) {
      const row = tasks.find((t) => t.system_id === s.system_id && t.id === id);
      if (row?.progress !== progress) lost.push(`${s.system_id}: task ${id} at ${row?.progress} instead of ${progress}`);
    }
    const mine = summaries.filter((x) => x.system_id === s.system_id);
    const events = mine.reduce((a, x) => a + x.total_events, 0);
    if (mine.length !== s.hook_tasks.length || events !== s.hook_events) lost.push(`${s.system_id}: ${mine.length} of ${s.hook_tasks.length} task summaries, ${events} of ${s.hook_events} events`);
  }
  const [{ n }] = await query<{ n: string }>('select count(*) n from (select op_id from public.fleet_apply_log where system_id = any($1) group by op_id having count(*) > 1) d', [ids]) as [{ n: string }];
  return { lost, doubled: Number(n), unsettled: systems.filter((s) => s.pending > 0 || s.failed > 0).map((s) => `${s.system_id}: ${s.pending} pending, ${s.failed} failed`) };
}
