/**
 * Stage 2, triggers: the threshold and event triggers, decided from the outbox counters after
 * every enqueue (in the daemon: `thresholdCheck`, run at start, after the API or the hook intake
 * records, and when ./commit-watch.ts sees another process commit).
 *
 * A trigger fires when operations of its bucket were recorded since the last look (or requeued,
 * which raises the pending count) and the pending count is at or over its threshold, so a sync's
 * own writes never fire one, and a backlog that is not growing is left to the periodic trigger.
 * Event buckets (urgent, critical, security, context changes) fire on any new operation.
 * "Recorded since" comes from a counter that only grows: a sync that settles one urgent operation
 * while another is recorded leaves the pending count as it was, and must still fire.
 */
import { messageOf } from '../errors.ts';
import type { Activity } from '../store/outbox.ts';
import type { Local } from '../local.ts';
import type { Logger } from '../log.ts';
import type { Settings } from '../config/load.ts';
import type { TriggerType } from '../types.ts';

export interface Fired {
  trigger: TriggerType;
  reason: string;
}

type Rules = Pick<Settings['sync'], 'thresholds' | 'event_driven'>;

export class ThresholdWatch {
  private last: Activity;
  private readonly rules: Rules;

  /** `initial` is what counts as already seen (nothing at daemon start, so a backlog fires once). */
  constructor(rules: Rules, initial: Activity = { pending: {}, recorded: {} }) {
    this.rules = rules;
    this.last = initial;
  }

  /** Compares the counters with the last look; returns the trigger to fire, most urgent first. */
  check(now: Activity): Fired | undefined {
    const prev = this.last;
    this.last = now;
    const more = (a: Activity['pending'], b: Activity['pending'], k: string) => (a[k] ?? 0) > (b[k] ?? 0);
    const n = (b: string) => now.pending[b] ?? 0;
    // Something of the bucket is pending, and it was recorded (or requeued) since the last look.
    // The first look after a start sees all history as new; only a pending backlog fires then.
    const grew = (b: string) => n(b) > 0 && (more(now.recorded, prev.recorded, b) || more(now.pending, prev.pending, b));
    const { thresholds: t, event_driven: ev } = this.rules;
    if (grew('security')) return { trigger: 'security', reason: `${n('security')} security event(s) pending` };
    if (ev.immediate_on_error && grew('critical')) return { trigger: 'critical_error', reason: `${n('critical')} critical error(s) pending` };
    if (ev.enable_urgent && grew('urgent')) return { trigger: 'urgent', reason: `${n('urgent')} urgent operation(s) pending` };
    if (grew('context_change')) return { trigger: 'context_change', reason: 'a context was registered or removed' };
    if (grew('total') && n('total') >= t.max_pending_operations) return { trigger: 'threshold_total', reason: `${n('total')} operations pending (threshold ${t.max_pending_operations})` };
    if (grew('tasks') && n('tasks') >= t.max_pending_tasks) return { trigger: 'threshold_tasks', reason: `${n('tasks')} task operations pending (threshold ${t.max_pending_tasks})` };
    if (grew('errors') && n('errors') >= t.max_pending_errors) return { trigger: 'threshold_errors', reason: `${n('errors')} errors pending (threshold ${t.max_pending_errors})` };
    if (grew('contexts') && n('contexts') >= t.max_pending_contexts) return { trigger: 'threshold_contexts', reason: `${n('contexts')} context changes pending (threshold ${t.max_pending_contexts})` };
    return undefined;
  }
}

/** Looks at the pending counters and enqueues the sync a crossed threshold asks for. */
export function thresholdCheck(settings: Settings, local: Local, log: Logger, enqueue: (trigger: TriggerType, reason: string) => void, stopping: () => boolean): () => void {
  const thresholds = new ThresholdWatch(settings.sync);
  return () => {
    if (stopping()) return;
    try {
      const fired = thresholds.check(local.outbox.activity());
      if (fired) enqueue(fired.trigger, fired.reason);
    } catch (err) {
      log.error({ err: messageOf(err) }, 'threshold check failed');
    }
  };
}
