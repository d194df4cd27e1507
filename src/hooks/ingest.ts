/**
 * Records one Claude Code hook payload: the task is assigned and the event recorded in one
 * transaction, so concurrent hooks of one session (Claude runs them in parallel) see each other's
 * prompts. Used where the spool is drained (the daemon, `sync now`) and by the daemon's
 * POST /api/hooks/claude; never by the hook process, which only spools.
 *
 * First, the transcripts the event names are read up to now (store/usage.ts), so the task's
 * summary that this event's upload carries has the usage of every response before it, and the
 * repository of its cwd is looked up (store/repos.ts). A transcript that cannot be read costs the
 * event nothing: it is recorded all the same.
 */
import { alsoClosed, assignTask, checkPayload, hookOperation, parsePayload, type Payload } from './claude.ts';
import type { Recorder } from '../record/record.ts';
import type { Db } from '../store/db.ts';
import type { HookEvents } from '../store/hook-events.ts';
import type { TranscriptUsage } from '../store/usage.ts';
import type { Repos } from '../store/repos.ts';

export interface HookSink {
  db: Db;
  recorder: Recorder;
  hookEvents: Pick<HookEvents, 'session' | 'startPrompt' | 'agentTask' | 'openTasks'>;
  usage?: Pick<TranscriptUsage, 'catchUp'>;
  repos?: Pick<Repos, 'note'>;
  /** Told when a transcript could not be read (the event is recorded all the same). */
  onTranscriptProblem?: (problem: unknown) => void;
}

/** The transcripts an event names: the session's, and a subagent's own. */
export function transcriptsOf(p: Payload): string[] {
  return [p.transcript_path, p.agent_transcript_path].filter((f): f is string => typeof f === 'string' && f.endsWith('.jsonl'));
}

export interface Ingested {
  task_id: string;
  event: string;
  op_id: string;
}

export function ingestClaudeHook(sink: HookSink, input: string | Payload, taskIdEnv: string | undefined, nowMs: number): Ingested {
  const payload = typeof input === 'string' ? parsePayload(input) : checkPayload(input);
  const nowIso = new Date(nowMs).toISOString();
  if (sink.usage) {
    try {
      sink.usage.catchUp(transcriptsOf(payload), nowIso);
    } catch (err) {
      sink.onTranscriptProblem?.(err);
    }
  }
  sink.repos?.note(payload.cwd, nowMs);
  return sink.db.transaction(() => {
    const task = assignTask(payload, sink.hookEvents, taskIdEnv);
    const ops = [hookOperation(payload, task, sink.recorder.newId(nowMs), nowIso)];
    for (const other of alsoClosed(payload, task, sink.hookEvents)) ops.push(hookOperation(payload, other, sink.recorder.newId(nowMs), nowIso));
    const res = sink.recorder.record(ops, () => 'payload');
    return { task_id: task, event: String(payload.hook_event_name), op_id: res.op_ids[0]! };
  }).immediate();
}
