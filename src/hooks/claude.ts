/**
 * Claude Code's hook payloads as ccm-sync records them (https://code.claude.com/docs/en/hooks).
 *
 * One JSON object per event, with no timestamp: the arrival time is stamped here. Every event is
 * accepted, known or not, and kept whole in `hook_events` (long strings cut by the recorder);
 * the remote only ever gets the task summaries computed from them (store/hook-events.ts).
 *
 * Which task an event belongs to:
 *   1. CCM_TASK_ID, when the process that launched the agent set it;
 *   2. a subagent's event (it carries agent_id): the task of the subagent's first event, which is
 *      the task of the prompt that started it (a background subagent may run on after the next
 *      prompt);
 *   3. the event's prompt_id (Claude Code 2.1.196 and later);
 *   4. otherwise the session and the ordinal of its last UserPromptSubmit ("<session>#2"), or
 *      "<session>#0" before the first prompt.
 * Stop, StopFailure and SessionEnd close the task (store/hook-events.ts); its summary goes up with
 * the next sync. SessionEnd also closes every other open task of its session (see alsoClosed).
 */
import type { OperationInput } from '../types.ts';

export type Payload = Record<string, unknown>;

/** Where a session stands: its prompt count and current task (the `hook_sessions` table). */
export interface Sessions {
  session(sessionId: string): { prompts: number; task_id: string } | undefined;
  startPrompt(sessionId: string, taskId: string): void;
  /** The task of a subagent's first event in its session. */
  agentTask(agentId: string, sessionId: string | null): string | undefined;
  /** Whether a task has events and none that closes it. */
  openTasks(sessionId: string | null): string[];
}

/**
 * Claude Code's events that ccm-sync registers for, whether Claude waits for the hook, and the
 * first Claude Code version that knows the event (from its release notes; where the notes do not
 * say, a version known to have it). A version that does not know an event warns about it, into
 * `claude -p` output too, so an event is installed only for a Claude Code at least that new
 * (eventsFor).
 */
export const CLAUDE_EVENTS: readonly { event: string; wait: boolean; matcher: boolean; since?: string }[] = [
  // Claude waits for this one, so the prompt's task exists before any of its tool events arrive
  // (without prompt_id, concurrent hooks could otherwise land in the previous prompt's task).
  { event: 'UserPromptSubmit', wait: true, matcher: false },
  { event: 'PreToolUse', wait: false, matcher: true },
  { event: 'PostToolUse', wait: false, matcher: true },
  { event: 'PostToolUseFailure', wait: false, matcher: true },
  { event: 'SubagentStart', wait: false, matcher: false },
  { event: 'SubagentStop', wait: false, matcher: false },
  { event: 'Notification', wait: false, matcher: false },
  { event: 'PreCompact', wait: false, matcher: false },
  { event: 'SessionStart', wait: false, matcher: false },
  // What a task's summary reads beyond the first events: permission prompts and their waits,
  // denials, compactions, batches of tool calls.
  { event: 'PermissionRequest', wait: false, matcher: true, since: '2.1.12' },
  { event: 'PostCompact', wait: false, matcher: false, since: '2.1.83' },
  { event: 'PermissionDenied', wait: false, matcher: true, since: '2.1.89' },
  { event: 'PostToolBatch', wait: false, matcher: false, since: '2.1.121' },
  // The events that close a task: Claude may exit right after them, and async hooks still running
  // then are killed, so it waits for these (a few milliseconds; SessionEnd has 1.5 s for all hooks).
  { event: 'Stop', wait: true, matcher: false },
  { event: 'StopFailure', wait: true, matcher: false, since: '2.1.78' },
  { event: 'SessionEnd', wait: true, matcher: false },
];

/** a ≥ b, for dotted versions ("2.1.328" ≥ "2.1.89"). */
export function versionAtLeast(a: string, b: string): boolean {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return true;
}

/** The events to install for a Claude Code version; with none known, only those every version has. */
export function eventsFor(version: string | undefined): typeof CLAUDE_EVENTS {
  return CLAUDE_EVENTS.filter((e) => !e.since || (version !== undefined && versionAtLeast(version, e.since)));
}

export class PayloadError extends Error {
  override readonly name = 'PayloadError';
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Parses one payload: a JSON object naming its event. */
export function parsePayload(text: string): Payload {
  if (text.trim() === '') throw new PayloadError('empty payload: nothing on stdin');
  let p: unknown;
  try {
    p = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the input, which may hold anything the agent saw.
    throw new PayloadError(`malformed payload: ${Buffer.byteLength(text)} bytes that are not JSON`);
  }
  return checkPayload(p);
}

export function checkPayload(p: unknown): Payload {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new PayloadError('malformed payload: expected a JSON object');
  if (!str((p as Payload).hook_event_name)) throw new PayloadError('malformed payload: no hook_event_name');
  return p as Payload;
}

/** The task of one event (see the rules above). Call inside the transaction that records it. */
export function assignTask(p: Payload, sessions: Sessions, taskIdEnv: string | undefined): string {
  const session = str(p.session_id) ?? 'no-session';
  const event = p.hook_event_name;
  if (event === 'UserPromptSubmit') {
    const task = str(taskIdEnv) ?? str(p.prompt_id) ?? `${session}#${(sessions.session(session)?.prompts ?? 0) + 1}`;
    sessions.startPrompt(session, task);
    return task;
  }
  if (str(taskIdEnv)) return taskIdEnv!;
  const current = sessions.session(session)?.task_id;
  const agent = str(p.agent_id);
  if (agent) {
    // A background subagent may run on after the next prompt: it stays with the task it began in.
    const first = sessions.agentTask(agent, str(p.session_id) ?? null) ?? current;
    if (first) return first;
  }
  return str(p.prompt_id) ?? current ?? `${session}#0`;
}

/**
 * The other tasks a SessionEnd closes: every task of its session still open. That is the
 * session's "#0" (what came before its first prompt, such as SessionStart), which no prompt's
 * Stop closes, and a task whose background subagent went on after the prompt's Stop (its late
 * events reopened it). The SessionEnd is recorded in each of them too.
 */
export function alsoClosed(p: Payload, task: string, sessions: Sessions): string[] {
  if (p.hook_event_name !== 'SessionEnd') return [];
  return sessions.openTasks(str(p.session_id) ?? null).filter((t) => t !== task);
}

/** The operation that records one event: an INSERT into hook_events, stamped with its arrival. */
export function hookOperation(p: Payload, taskId: string, eventId: string, nowIso: string): OperationInput {
  // The payload's own keys are kept as Claude Code sent them; task_id and timestamp are ours.
  const record: Payload = { ...p, task_id: taskId, timestamp: nowIso };
  if (p.timestamp !== undefined) record.claude_timestamp = p.timestamp;
  return { operation: 'INSERT', table_name: 'hook_events', record_id: eventId, record_data: record, changed_at: nowIso };
}
