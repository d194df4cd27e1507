/**
 * Records one Claude Code hook payload: the task is assigned and the event recorded in one
 * transaction, so concurrent hooks of one session (Claude runs them in parallel) see each other's
 * prompts. Used by `ccm-sync hook` (a process per event) and the daemon's POST /api/hooks/claude.
 */
import { alsoClosed, assignTask, checkPayload, hookOperation, parsePayload, type Payload } from './claude.ts';
import type { Recorder } from '../record.ts';
import type { Db } from '../store/db.ts';
import type { HookEvents } from '../store/hook-events.ts';

export interface HookSink {
  db: Db;
  recorder: Recorder;
  hookEvents: Pick<HookEvents, 'session' | 'startPrompt' | 'agentTask' | 'openTasks'>;
}

export interface Ingested {
  task_id: string;
  event: string;
  op_id: string;
}

export function ingestClaudeHook(sink: HookSink, input: string | Payload, taskIdEnv: string | undefined, nowMs: number): Ingested {
  const payload = typeof input === 'string' ? parsePayload(input) : checkPayload(input);
  const nowIso = new Date(nowMs).toISOString();
  return sink.db.transaction(() => {
    const task = assignTask(payload, sink.hookEvents, taskIdEnv);
    const ops = [hookOperation(payload, task, sink.recorder.newId(nowMs), nowIso)];
    for (const other of alsoClosed(payload, task, sink.hookEvents)) ops.push(hookOperation(payload, other, sink.recorder.newId(nowMs), nowIso));
    const res = sink.recorder.record(ops, () => 'payload');
    return { task_id: task, event: String(payload.hook_event_name), op_id: res.op_ids[0]! };
  }).immediate();
}
