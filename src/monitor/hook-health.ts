/**
 * How the coding-agent hooks are doing, for `sync status`, the dashboard and `hook status`: the
 * last event recorded, events spooled but not yet recorded, events set aside as unrecordable, and
 * the failures the hook logged (src/hooks/failures.ts).
 */
import path from 'node:path';
import { fallbackHookLog, hookFailures, hookLogFile, type HookFailure } from '../hooks/failures.ts';
import { spoolCounts } from '../hooks/spool.ts';
import type { HookEvents } from '../store/hook-events.ts';

export interface HookHealth {
  last_event_at: string | null;
  last_event: string | null;
  spooled: number;
  rejected: number;
  /** Failures the hook logged in the last 24 hours (in the home, and in the fallback log). */
  failures: number;
  last_failure: HookFailure | null;
  /** The log file(s) holding those failures (the home's when there are none). */
  log: string;
  /** Why the daemon could not record the spool last time it tried, until it can. */
  intake_error: string | null;
  /** A transcript that could not be read in the last hour (status adds it). */
  transcript_problem?: string | null;
}

export function hookHealth(hookEvents: Pick<HookEvents, 'last'>, home: string, intakeError: string | null = null, nowMs = Date.now()): HookHealth {
  const last = hookEvents.last();
  const log = hookLogFile(home);
  const since = nowMs - 86_400_000;
  const here = hookFailures(log, since);
  // Failures the hook could not write into the home (no home, unwritable) went to the fallback log,
  // which every home of this user shares: this home's, and those whose home was not known.
  const fallback = hookFailures(fallbackHookLog(), since, (f) => f.home === undefined || path.resolve(f.home) === path.resolve(home));
  const { waiting, rejected } = spoolCounts(home);
  // Name the log that holds the failures: the fallback one when the home could not be written.
  const logs = [...(here.count || !fallback.count ? [log] : []), ...(fallback.count ? [fallbackHookLog()] : [])];
  const lastFailure = [here.last, fallback.last].filter((f): f is HookFailure => Boolean(f)).sort((a, b) => a.at.localeCompare(b.at)).at(-1);
  return {
    last_event_at: last?.timestamp ?? null,
    last_event: last?.event_name ?? null,
    spooled: waiting,
    rejected,
    failures: here.count + fallback.count,
    last_failure: lastFailure ?? null,
    log: logs.join(' and '),
    intake_error: intakeError,
  };
}

/** One line for people, or undefined when no hook ever reached this home. */
export function hookLine(h: HookHealth, ago: (iso: string) => string): string | undefined {
  if (!h.last_event_at && !h.spooled && !h.failures && !h.rejected && !h.transcript_problem) return undefined;
  const parts = [h.last_event_at ? `last event ${ago(h.last_event_at)} (${h.last_event ?? '?'})` : 'no event recorded yet'];
  if (h.spooled) parts.push(`${h.spooled} spooled, not yet recorded${h.intake_error ? ` (${h.intake_error})` : ''}`);
  if (h.rejected) parts.push(`${h.rejected} set aside as unrecordable`);
  if (h.failures) parts.push(`${h.failures} failure${h.failures === 1 ? '' : 's'} in 24 h, last: ${h.last_failure?.problem ?? '?'} (${h.log})`);
  if (h.transcript_problem) parts.push(h.transcript_problem);
  return parts.join(' · ');
}
