/**
 * The one back-off rule ccm-sync uses everywhere something is tried again: sync jobs (liteque's
 * retry delay), operations the remote rejected transiently (settle), and the connectivity probe.
 *
 * Delay before try number `attempt` (1-based): base·2^(attempt-1), capped at max, ± jitter.
 */
export interface BackoffOptions {
  base_delay_ms: number;
  max_delay_ms: number;
  /** Share of the delay added or taken at random (0: none). */
  jitter: number;
}

export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const raw = Math.min(o.max_delay_ms, o.base_delay_ms * 2 ** Math.max(0, attempt - 1));
  const spread = raw * o.jitter;
  return Math.max(0, Math.round(raw - spread + random() * 2 * spread));
}
