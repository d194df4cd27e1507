/**
 * One process of a simulated fleet (./fleet.ts): `node fleet-worker.ts <config.json>`. Each system
 * it hosts is a whole ccm-sync: its own home and SQLite outbox, its own transport (connections,
 * JWT), its own batch_sync calls and advisory lock, the real recorder, packager and settler.
 * It prints `ready` once every system is open, starts on a line on stdin, and prints one JSON line
 * per system when all are drained.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { SignJWT } from 'jose';
import { stringify } from 'yaml';
import { loadSettings, type Settings } from '../../src/config/load.ts';
import { ingestClaudeHook } from '../../src/hooks/ingest.ts';
import { openLocal, syncContext, type Local } from '../../src/local.ts';
import { heartbeatOf } from '../../src/monitor/heartbeat.ts';
import { openTransport, type Transport } from '../../src/remote/index.ts';
import { runSync } from '../../src/workers/sync-run.ts';
import type { FleetWorkerConfig, SystemResult } from './fleet.ts';

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as FleetWorkerConfig;

interface System {
  id: string;
  settings: Settings;
  local: Local;
  transport: Transport;
  result: SystemResult;
}

async function open(id: string): Promise<System> {
  const home = path.join(config.dir, id);
  mkdirSync(home, { recursive: true });
  const file = path.join(home, 'config.yaml');
  const remote = config.remote;
  writeFileSync(file, stringify({
    system: { id, type: config.types[Number(id.replace(/\D/g, '')) % config.types.length] },
    remote: { kind: remote.kind, prune_interval_minutes: 0 },
    sync: { max_ops_per_request: config.batch },
    log_level: 'silent',
  }));
  const env: NodeJS.ProcessEnv = remote.kind === 'postgres'
    ? { CCM_SYNC_DATABASE_URL: remote.url }
    : {
        SUPABASE_URL: remote.url, SUPABASE_PUBLISHABLE_KEY: remote.anonKey,
        CCM_SYNC_ACCESS_TOKEN: await new SignJWT({ role: 'authenticated', system_id: id }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('4h').sign(new TextEncoder().encode(remote.jwtSecret)),
      };
  const settings = loadSettings({ configPath: file, env });
  const local = openLocal(settings);
  const transport = await openTransport(settings);
  return { id, settings, local, transport, result: { system_id: id, recorded: 0, reports: 0, alerts: 0, hook_events: 0, tasks: {}, hook_tasks: [], pending: 0, failed: 0, syncs: 0, operations_out: 0, first_synced_at: 0, done_at: 0 } };
}

/** One round of a busy workstation: hook events of one agent task, reports, task updates, an urgent alert. */
function record(s: System, round: number, n: number): void {
  const now = () => Date.now();
  const hooks = Math.max(4, Math.floor(n * 0.4));
  const prompt = `${s.id}-p${round}`;
  const session = `${s.id}-session`;
  ingestClaudeHook(s.local, { session_id: session, prompt_id: prompt, cwd: '/work', hook_event_name: 'UserPromptSubmit', prompt: 'go' }, undefined, now());
  for (let i = 0; i < hooks - 2; i++) {
    const base = { session_id: session, prompt_id: prompt, cwd: '/work', tool_name: 'Bash', tool_use_id: `${prompt}-t${i >> 1}`, tool_input: { command: `make step-${i >> 1}` } };
    ingestClaudeHook(s.local, { ...base, hook_event_name: i % 2 ? 'PostToolUse' : 'PreToolUse', ...(i % 2 ? { tool_response: { stdout: 'ok' } } : {}) }, undefined, now());
  }
  ingestClaudeHook(s.local, { session_id: session, prompt_id: prompt, cwd: '/work', hook_event_name: 'Stop' }, undefined, now());
  s.result.hook_events += hooks;
  s.result.hook_tasks.push(prompt);
  const reports = Math.floor(n * 0.3);
  const updates = Math.floor(n * 0.25);
  const alerts = Math.max(1, n - hooks - reports - updates);
  s.local.recorder.record([
    ...Array.from({ length: reports }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'supervisory_reports', record_id: `rep-${round}-${i}`, record_data: { summary: `round ${round} report ${i}`, status: 'open' } })),
    ...Array.from({ length: updates }, (_, i) => ({ operation: 'UPDATE' as const, table_name: 'tasks', record_id: `t-${i % 10}`, record_data: { title: `task ${i % 10}`, status: 'running', progress: round * 1000 + i } })),
    ...Array.from({ length: alerts }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'alerts', record_id: `al-${round}-${i}`, record_data: { severity: 'warning', message: `alert ${i}` }, priority: 'urgent' as const })),
  ]);
  s.result.recorded += hooks + reports + updates + alerts;
  s.result.reports += reports;
  s.result.alerts += alerts;
  for (let i = 0; i < updates; i++) s.result.tasks[`t-${i % 10}`] = round * 1000 + i;
}

async function drain(s: System): Promise<void> {
  for (let guard = 0; guard < 1000; guard++) {
    let r;
    try {
      r = await runSync(syncContext(s.local, s.settings, s.transport, { heartbeat: () => heartbeatOf(s.local, s.settings) }), { trigger: 'periodic', reason: 'fleet' });
    } catch (err) {
      // The remote unreachable for a moment (a connection reset on a loaded machine): the daemon's
      // sync job would retry with back-off; so does this loop.
      if ((err as { code?: string }).code !== 'REMOTE_UNAVAILABLE') throw err;
      s.result.syncs++;
      await new Promise((res) => setTimeout(res, 100));
      continue;
    }
    s.result.syncs++;
    s.result.operations_out += r.operations_out ?? 0;
    if (r.operations_synced > 0 && !s.result.first_synced_at) s.result.first_synced_at = Date.now();
    if (r.status === 'failed') await new Promise((res) => setTimeout(res, 50));
    if (s.local.outbox.pendingTotal() === 0) return;
  }
}

async function run(s: System): Promise<void> {
  const per = Math.ceil(config.opsPerSystem / config.rounds);
  for (let round = 0; round < config.rounds; round++) {
    record(s, round, Math.min(per, config.opsPerSystem - round * per));
    await drain(s);
    await new Promise((res) => setTimeout(res, Math.random() * config.pauseMs));
  }
  const back = s.local.outbox.heldBack();
  s.result.pending = s.local.outbox.pendingTotal();
  s.result.failed = back.failed;
  s.result.done_at = Date.now();
}

const systems = await Promise.all(config.systems.map(open));
process.stdout.write('ready\n');
await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('line', () => resolve()));
await Promise.all(systems.map(run));
for (const s of systems) {
  process.stdout.write(`${JSON.stringify(s.result)}\n`);
  await s.transport.close();
  s.local.close();
}
