/**
 * The connection state machine: online → offline → (probe succeeds) → draining → online.
 *
 * Going offline: `failures_before_offline` consecutive retryable upload failures (connection
 * refused or reset, DNS failure, timeout, HTTP 5xx/gateway errors). A slow request that succeeds
 * is not a failure, and one failure alone never takes the system offline.
 * While offline, routine triggers are skipped (the daemon does not pile up failing jobs) and
 * `probe` pings the remote with exponential backoff and jitter, capped at `probe_max_ms`.
 * A successful probe moves to draining: the daemon logs "Connection restored, draining N
 * operations" and enqueues an `online` sync; when a sync completes with the state draining, the
 * state is online again. Every transition is persisted (sync_state.connection) and recorded as an
 * urgent `system_status` operation, which syncs as soon as the remote is reachable.
 */
import { backoffDelay } from '../backoff.ts';
import { CredentialRefusedError, messageOf } from '../errors.ts';
import type { Settings } from '../config/load.ts';
import type { Local } from '../local.ts';
import type { ConnectionState } from '../store/state.ts';

export interface ConnectionDeps {
  settings: Settings;
  local: Local;
  ping(): Promise<void>;
  /** Called on offline → draining with the pending count and how long the system was offline. */
  onRestored(pending: number, offlineMs: number): void;
  onTransition(from: ConnectionState['state'], to: ConnectionState): void;
  /** The credential the remote refused is accepted again. */
  onCredentialAccepted(): void;
}

export class ConnectionMonitor {
  private readonly deps: ConnectionDeps;
  state: ConnectionState;
  private probeTimer?: NodeJS.Timeout;
  private probeAttempt = 0;
  private simulatedUntil = 0;
  private stopped = false;
  private credentialTimer?: NodeJS.Timeout;
  private credentialAttempt = 0;

  constructor(deps: ConnectionDeps) {
    this.deps = deps;
    const persisted = deps.local.state.get('connection');
    this.state = persisted ?? { state: 'online', since: new Date(deps.local.clock.now()).toISOString(), consecutive_failures: 0 };
    const sim = deps.local.state.get('simulated_offline_until');
    if (sim?.until && Date.parse(sim.until) > deps.local.clock.now()) this.simulatedUntil = Date.parse(sim.until);
    if (this.state.state !== 'online') this.scheduleProbe();
    if (deps.local.state.get('credential_refused')) this.scheduleCredentialCheck();
  }

  get offline(): boolean {
    return this.state.state === 'offline';
  }

  get simulatedOffline(): boolean {
    return this.simulatedUntil > this.deps.local.clock.now();
  }

  private set(next: Omit<ConnectionState, 'since'> & { since?: string }): void {
    const from = this.state.state;
    const changed = from !== next.state;
    this.state = { ...next, since: changed ? new Date(this.deps.local.clock.now()).toISOString() : this.state.since };
    this.deps.local.state.set('connection', this.state);
    if (changed) this.deps.onTransition(from, this.state);
  }

  /** Whether syncs wait for a credential the remote accepts. */
  get credentialWaiting(): boolean {
    return this.deps.local.state.get('credential_refused') !== undefined;
  }

  /**
   * The remote refused this machine's credential. Not an outage: the connection state stays as it
   * is, and the credential is checked again with backoff (probe_initial_ms up to probe_max_ms), so
   * a fresh token in the token file is picked up without anyone asking.
   */
  credentialRefused(reason: string): void {
    const since = this.deps.local.state.get('credential_refused')?.since ?? new Date(this.deps.local.clock.now()).toISOString();
    const delay = this.scheduleCredentialCheck();
    this.deps.local.state.set('credential_refused', { reason, since, next_check_at: new Date(this.deps.local.clock.now() + delay).toISOString() });
  }

  /** The wait before a probe or credential check: probe_initial_ms doubling up to probe_max_ms, with jitter. */
  private probeDelay(attempt: number): number {
    const o = this.deps.settings.offline;
    return backoffDelay(attempt, { base_delay_ms: o.probe_initial_ms, max_delay_ms: o.probe_max_ms, jitter: 0.2 });
  }

  private scheduleCredentialCheck(): number {
    if (this.stopped) return 0;
    clearTimeout(this.credentialTimer);
    const delay = this.probeDelay(++this.credentialAttempt);
    this.credentialTimer = setTimeout(() => void this.checkCredential(), delay);
    this.credentialTimer.unref();
    return delay;
  }

  private async checkCredential(): Promise<void> {
    if (this.stopped || !this.credentialWaiting) return;
    try {
      await this.deps.ping();
    } catch (err) {
      if (this.stopped) return;
      if (CredentialRefusedError.is(err)) this.credentialRefused(messageOf(err));
      else this.scheduleCredentialCheck();
      return;
    }
    this.credentialAccepted();
    this.deps.onCredentialAccepted();
  }

  private credentialAccepted(): void {
    this.credentialAttempt = 0;
    clearTimeout(this.credentialTimer);
    if (this.credentialWaiting) this.deps.local.state.delete('credential_refused');
  }

  /** A sync uploaded everything it tried. */
  success(): void {
    this.credentialAccepted();
    this.probeAttempt = 0;
    if (this.state.state === 'online' && this.state.consecutive_failures === 0) return;
    this.set({ state: 'online', consecutive_failures: 0, reason: undefined });
  }

  /** A retryable transport failure. */
  failure(err: unknown): void {
    const n = this.state.consecutive_failures + 1;
    const reason = messageOf(err);
    if (this.state.state === 'offline' || n >= this.deps.settings.offline.failures_before_offline) {
      this.set({ state: 'offline', consecutive_failures: n, reason });
      this.scheduleProbe();
    } else {
      this.set({ ...this.state, consecutive_failures: n, reason });
    }
  }

  /** Simulated offline (`ccm-sync test offline`, TUI key o): fail every upload until `untilMs`. */
  simulate(untilMs: number | null): void {
    this.simulatedUntil = untilMs ?? 0;
    this.deps.local.state.set('simulated_offline_until', { until: untilMs ? new Date(untilMs).toISOString() : null });
    if (untilMs) this.set({ state: 'offline', consecutive_failures: this.state.consecutive_failures, reason: 'simulated offline' });
    this.probeAttempt = 0;
    this.scheduleProbe(untilMs ? Math.max(0, untilMs - this.deps.local.clock.now()) : 0);
  }

  private scheduleProbe(delayMs?: number): void {
    if (this.stopped) return;
    clearTimeout(this.probeTimer);
    const delay = delayMs ?? this.probeDelay(++this.probeAttempt);
    const at = new Date(this.deps.local.clock.now() + delay).toISOString();
    if (this.state.state !== 'online') {
      this.state = { ...this.state, next_probe_at: at };
      this.deps.local.state.set('connection', this.state);
    }
    this.probeTimer = setTimeout(() => void this.probe(), delay);
    this.probeTimer.unref();
  }

  /** One connectivity probe; reschedules itself while the remote stays unreachable. */
  private async probe(): Promise<void> {
    if (this.stopped || this.state.state === 'online') return;
    if (this.simulatedOffline) {
      this.scheduleProbe(Math.max(10, this.simulatedUntil - this.deps.local.clock.now()));
      return;
    }
    try {
      await this.deps.ping();
    } catch (err) {
      this.state = { ...this.state, reason: messageOf(err) };
      this.scheduleProbe();
      return;
    }
    this.probeAttempt = 0;
    const pending = this.deps.local.outbox.pendingTotal();
    const offlineMs = this.deps.local.clock.now() - Date.parse(this.state.since);
    this.set({ state: 'draining', consecutive_failures: 0, reason: 'connection restored' });
    this.deps.onRestored(pending, offlineMs);
  }

  /** A sync completed: a drain that finishes brings the state back to online. */
  syncCompleted(): void {
    if (this.state.state === 'draining') this.set({ state: 'online', consecutive_failures: 0 });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.probeTimer);
    clearTimeout(this.credentialTimer);
  }
}
