/**
 * Retention: synced history leaves the outbox after retention.synced_days, the hook events of a
 * task idle for retention.hook_events_days leave once its summary is synced, and what a person
 * still has to look at (failed, conflicts, discarded) stays. Run through the worker thread, as the
 * daemon runs it, on a real SQLite file, with the clock moved by hand.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.ts';
import { openLocal } from '../src/local.ts';
import { pruneHistory } from '../src/retention.ts';
import { SyncWorkerHost } from '../src/workers/sync-thread.ts';
import { makeEnv } from './helpers/env.ts';

const DAY = 86_400_000;

describe('retention', () => {
  it('prunes synced operations and idle tasks\' hook events, keeps failures and pending work', async () => {
    const env = makeEnv({ retention: { synced_days: 7, hook_events_days: 30 } });
    const clock = new ManualClock('2026-01-01T00:00:00.000Z');
    const local = openLocal(env.settings, clock);
    try {
      const hook = (id: string, task: string) => ({ operation: 'INSERT' as const, table_name: 'hook_events', record_id: id, record_data: { task_id: task, hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_use_id: id, tool_input: { command: 'ls' } } });
      local.recorder.record([...Array.from({ length: 12_000 }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: `old-${i}`, record_data: { title: 'old' } })), hook('e1', 'idle-task'), hook('e2', 'idle-task')]);
      local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: 'will-fail', record_data: { title: 'x' } }]);
      const rows = local.outbox.page(clock.now(), 20_000);
      local.outbox.settle(rows.map((row) => (row.record_id === 'will-fail' ? { kind: 'failed' as const, row, error: 'no' } : { kind: 'synced' as const, row, result: 'applied' })), new Date(clock.now()).toISOString());
      clock.advance(40 * DAY);
      // A task still going on (an event of today) and one whose summary is still pending keep theirs.
      local.recorder.record([hook('e3', 'busy-task'), hook('e4', 'pending-task')]);
      local.db.prepare("UPDATE hook_events SET timestamp = '2026-01-01T00:00:00.000Z' WHERE event_id IN ('e4')").run();
      local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: 'recent', record_data: { title: 'new' } }]);
      // Usage read from a transcript 40 days ago: a session whose events are gone loses it; one
      // with a prompt still kept keeps it.
      const transcript = path.join(env.dir, 'old.jsonl');
      const line = (id: string, session: string) => JSON.stringify({ type: 'assistant', timestamp: '2026-01-01T00:00:01.000Z', sessionId: session, requestId: `r-${id}`, message: { id, model: 'claude-haiku-4-5', usage: { input_tokens: 1, output_tokens: 1 } } });
      writeFileSync(transcript, `${line('m1', 'gone-session')}\n${line('m2', 'kept-session')}\n`);
      expect(local.usage.catchUp([transcript], '2026-01-01T00:00:02.000Z')).toBe(2);
      local.recorder.record([{ operation: 'INSERT', table_name: 'hook_events', record_id: 'e5', record_data: { task_id: 'kept-task', session_id: 'kept-session', hook_event_name: 'UserPromptSubmit' } }]);

      const r = await pruneHistory(local, env.settings);
      expect(r).toMatchObject({ operations: 12_002, hook_events: 2, transcript_usage: 1 });
      expect(local.db.prepare('SELECT session_id FROM transcript_usage').all()).toEqual([{ session_id: 'kept-session' }]);
      const left = local.db.prepare('SELECT status, count(*) AS n FROM sync_queue GROUP BY status ORDER BY status').all();
      expect(left).toEqual([{ status: 'failed', n: 1 }, { status: 'pending', n: 4 }]);
      expect((local.db.prepare('SELECT task_id FROM hook_events ORDER BY task_id').all() as { task_id: string }[]).map((x) => x.task_id)).toEqual(['busy-task', 'kept-task', 'pending-task']);
      // The counters still match the rows.
      expect(local.outbox.pendingTotal()).toBe(4);
    } finally {
      local.close();
      env.cleanup();
    }
  });

  it('runs in the sync worker thread, as the daemon asks it to', async () => {
    const env = makeEnv();
    const local = openLocal(env.settings);
    const host = new SyncWorkerHost(env.settings);
    try {
      local.recorder.record([{ operation: 'INSERT', table_name: 'tasks', record_id: 'a', record_data: { title: 'a' } }]);
      const rows = local.outbox.page(Date.now(), 10);
      local.outbox.settle(rows.map((row) => ({ kind: 'synced' as const, row, result: 'applied' })), '2020-01-01T00:00:00.000Z');
      expect(await host.prune()).toMatchObject({ operations: 1 });
      expect(await host.prune(365)).toMatchObject({ operations: 0 });
    } finally {
      await host.close();
      local.close();
      env.cleanup();
    }
  });
});
