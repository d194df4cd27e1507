// The reference workload: 20 tasks × 500 hook events plus 10 context changes. What is uploaded
// against what was recorded, and how fast packaging runs.
import { openLocal, syncContext } from '../dist/local.js';
import { packagePage } from '../dist/package/index.js';
import { PostgresTransport } from '../dist/remote/postgres.js';
import { runSync } from '../dist/workers/sync-run.js';
import { now, scratchEnv } from './lib.mjs';

const TOOLS = ['Bash', 'Edit', 'Read', 'Write', 'Grep'];

export function referenceWorkload() {
  const ops = [];
  for (let t = 0; t < 20; t++) {
    ops.push({ operation: 'INSERT', table_name: 'tasks', record_id: `task-${t}`, record_data: { title: `Task ${t}`, status: 'in_progress', project: 'ccm' } });
    for (let e = 0; e < 500; e++) {
      const tool = TOOLS[e % TOOLS.length];
      const input = tool === 'Bash' ? { command: `npm test -- --grep case-${e % 40}` } : { file_path: `src/module-${e % 30}/file-${e % 7}.ts`, ...(tool === 'Edit' ? { old_string: 'const a = 1;', new_string: 'const a = 2;' } : {}) };
      ops.push({
        operation: 'INSERT',
        table_name: 'hook_events',
        record_id: `ev-${t}-${e}`,
        record_data: {
          task_id: `task-${t}`, session_id: `session-${t}`, event_name: e % 2 ? 'PostToolUse' : 'PreToolUse', tool_name: tool, tool_input: input,
          tool_response: e % 50 === 49 ? 'Error: command failed with exit code 1\n' + 'stack line\n'.repeat(10) : `ok ${'output '.repeat(20)}`,
          success: e % 50 !== 49, timestamp: new Date(Date.UTC(2026, 10, 25, 9, 0, 0) + e * 2000).toISOString(),
        },
      });
    }
  }
  for (let c = 0; c < 10; c++) ops.push({ operation: 'INSERT', table_name: 'contexts', record_id: `ctx-${c}`, record_data: { name: `context ${c}`, path: `/repo/${c}`, action: 'updated' } });
  return ops;
}

export async function benchPackaging(db) {
  const env = scratchEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: db.url });
  const local = openLocal(env.settings);
  try {
    const ops = referenceWorkload();
    local.recorder.record(ops);
    // Packaging alone, page by page, as the worker reads it.
    const rows = local.outbox.page(Date.now(), ops.length);
    const ctx = { db: local.db, nowIso: new Date().toISOString(), manualTables: new Set() };
    const t0 = now();
    let reps = 0;
    while (now() - t0 < 3000) {
      for (let i = 0; i < rows.length; i += 500) packagePage(rows.slice(i, i + 500), ctx, { maxOps: 50, maxBytes: 1_000_000 });
      reps++;
    }
    const eventsPerS = (reps * rows.length) / ((now() - t0) / 1000);
    const transport = new PostgresTransport({ connectionString: db.url, systemId: env.systemId, timeoutMs: 60_000 });
    const r = await runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 'bench', limits: { maxOperations: ops.length } });
    await transport.close();
    return {
      recorded_ops: ops.length,
      uploaded_ops: r.operations_out,
      recorded_bytes: r.bytes_in,
      uploaded_bytes: r.bytes_sent,
      byte_reduction: 1 - r.bytes_sent / r.bytes_in,
      op_reduction: 1 - r.operations_out / ops.length,
      batches: r.batches,
      packaging_ops_per_s: Math.round(eventsPerS),
    };
  } finally {
    local.close();
    env.cleanup();
  }
}
