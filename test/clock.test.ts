/**
 * A clock that jumps. A machine whose clock ran an hour ahead and was then set back keeps the
 * order of its own writes (a hybrid logical clock: a change time from the clock never goes below
 * the last one recorded), on the remote and in the local copy; a direct edit made between them is
 * still judged by wall-clock time; and a change time far in the future is refused at enqueue.
 */
import { describe, expect, it } from 'vitest';
import { openLocal, syncContext } from '../src/local.ts';
import { PostgresTransport } from '../src/remote/postgres.ts';
import { runSync } from '../src/workers/sync-run.ts';
import { runCli } from './helpers/cli.ts';
import { makeEnv } from './helpers/env.ts';
import { pgTest } from './helpers/fixtures.ts';

const HOUR = 3_600_000;

describe('a clock that jumps', () => {
  pgTest("keeps this machine's own writes in order when its clock is set back, and still lets a later direct edit win", async ({ db }) => {
    const env = makeEnv({ remote: { kind: 'postgres' } }, { CCM_SYNC_DATABASE_URL: db.url });
    let now = Date.now() + HOUR; // the clock runs an hour ahead
    const local = openLocal(env.settings, { now: () => now });
    const transport = new PostgresTransport({ connectionString: db.url, systemId: env.systemId, timeoutMs: 10_000 });
    const sync = () => runSync(syncContext(local, env.settings, transport), { trigger: 'manual', reason: 'clock' });
    try {
      local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: 'jump', record_data: { status: 'ahead', title: 'a' } }]);
      expect((await sync()).status).toBe('synced');
      now -= HOUR; // NTP sets it back
      local.recorder.record([{ operation: 'UPDATE', table_name: 'tasks', record_id: 'jump', record_data: { status: 'after the jump' } }]);
      expect((await sync()).status).toBe('synced');
      const remote = await db.query<{ status: string }>('select status from tasks where system_id = $1 and id = $2', [env.systemId, 'jump']);
      expect(remote).toEqual([{ status: 'after the jump' }]);
      const copy = local.db.prepare("SELECT json_extract(data, '$.status') AS s FROM local_records WHERE table_name = 'tasks' AND record_id = 'jump'").get() as { s: string };
      expect(copy.s).toBe('after the jump');

      // A direct edit on the remote an hour and a half from now: wall-clock time still decides
      // against it, so this machine's next write (its clock now right) loses to it.
      await db.query("update tasks set title = 'edited directly', updated_at = now() + interval '90 minutes' where system_id = $1 and id = 'jump'", [env.systemId]);
      local.recorder.record([{ operation: 'UPDATE', table_name: 'tasks', record_id: 'jump', record_data: { title: 'from the machine' } }]);
      await sync();
      const [row] = await db.query<{ title: string; status: string }>('select title, status from tasks where system_id = $1 and id = $2', [env.systemId, 'jump']);
      expect(row).toEqual({ title: 'edited directly', status: 'after the jump' });
    } finally {
      await transport.close();
      local.close();
      env.cleanup();
    }
  });

  it('refuses a change time more than sync.max_future_seconds ahead, and records nothing', async () => {
    const env = makeEnv();
    try {
      const far = await runCli(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', 'f', '--data', '{"status":"from-future"}', '--changed-at', '2999-01-01'], { env: env.env });
      expect(far.code).toBe(2);
      expect(far.stderr).toMatch(/is \d+ hours ahead of this machine's clock \(limit sync\.max_future_seconds = 86400\)/);
      const soon = new Date(Date.now() + HOUR).toISOString();
      expect((await runCli(['enqueue', '--op', 'INSERT', '--table', 'tasks', '--id', 's', '--data', '{"status":"soon"}', '--changed-at', soon], { env: env.env })).code).toBe(0);
      expect(JSON.parse((await runCli(['sync', 'status', '--json'], { env: env.env })).stdout).pending.total).toBe(1);
    } finally {
      env.cleanup();
    }
  });
});
