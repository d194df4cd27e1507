/**
 * `sync_state`: small named values that every process reads (status, TUI) and the daemon writes.
 * Values are JSON. Keys used: last_sync, last_success, next_sync, interval, connection, paused,
 * simulated_offline_until, daemon, credential_refused, token.
 */
import { statements, type Db } from './db.ts';

export interface ConnectionState {
  state: 'online' | 'offline' | 'draining';
  since: string;
  reason?: string;
  next_probe_at?: string;
  consecutive_failures: number;
}

export interface StateKeys {
  last_sync: { at: string; trigger: string; operations: number; duration_ms: number; success: boolean; error?: string; failed?: number; conflicts?: number };
  last_success: { at: string };
  next_sync: { at: string; trigger: 'periodic' };
  interval: { base_seconds: number; effective_seconds: number; rate_per_minute: number };
  connection: ConnectionState;
  paused: { paused: boolean; at: string };
  simulated_offline_until: { until: string | null };
  daemon: { pid: number; port: number; started_at: string };
  ledger_pruned: { at: string; through: number };
  activity: { kind: 'idle' | 'syncing' | 'backing_off'; trigger?: string; done?: number; total?: number; reason?: string; next_retry_at?: string; at: string };
  /** The remote refused this machine's credential: syncs wait, and it is checked again at next_check_at. */
  credential_refused: { reason: string; since: string; next_check_at: string };
  /** Where the daemon's token comes from and when it expires (written by the daemon). */
  token: { source: string; expires_at: string | null };
  /** The daemon could not record the hook spool (the events stay spooled); cleared once it can. */
  hook_intake: { error: string; at: string };
  /** This installation (a local database and its copies): made once, sent with every heartbeat (src/remote/identity.ts). */
  installation: { instance: string; created_at: string };
  /** `sync takeover`: the other installation whose system id this one may take over. */
  installation_takeover: { instance: string; host: string | null; at: string };
  /** The last time a coding-agent transcript could not be read (its usage is missing from summaries). */
  transcript_problem: { error: string; at: string };
}

export class StateStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = statements(db, {
      // get: one value. Params: key. Returns: {value} or undefined.
      get: 'SELECT value FROM sync_state WHERE key = ?',
      // set: upserts one value. Params: key, value (JSON), updated_at.
      set: `
        INSERT INTO sync_state (key, value, updated_at) VALUES (?, ?, ?)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      // del: removes one value. Params: key.
      del: 'DELETE FROM sync_state WHERE key = ?',
    });
  }

  get<K extends keyof StateKeys>(key: K): StateKeys[K] | undefined {
    const row = this.stmts.get.get(key) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as StateKeys[K]) : undefined;
  }

  set<K extends keyof StateKeys>(key: K, value: StateKeys[K], now = new Date()): void {
    this.stmts.set.run(key, JSON.stringify(value), now.toISOString());
  }

  delete(key: keyof StateKeys): void {
    this.stmts.del.run(key);
  }
}
