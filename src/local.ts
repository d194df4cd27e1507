/**
 * The local side of ccm-sync in one handle: the SQLite database and the stores over it. Every
 * process (CLI command, daemon, worker thread, TUI) opens its own.
 */
import { fs } from './builtins.ts';
import { systemClock, type Clock } from './clock.ts';
import { Recorder, recordOptions } from './record/record.ts';
import { openDb, type Db } from './store/db.ts';
import { MetricsStore } from './store/metrics.ts';
import { Outbox } from './store/outbox.ts';
import { Review } from './store/review.ts';
import { HookEvents } from './store/hook-events.ts';
import { StateStore } from './store/state.ts';
import { TranscriptUsage } from './store/usage.ts';
import { Repos } from './store/repos.ts';
import { loadPricing, type PriceTable } from './hooks/pricing.ts';
import type { Settings } from './config/load.ts';
import { ConfigError } from './errors.ts';
import type { Transport } from './remote/transport.ts';
import type { SyncContext, SyncRunOptions } from './workers/sync-context.ts';

export interface Local {
  db: Db;
  recorder: Recorder;
  outbox: Outbox;
  review: Review;
  hookEvents: HookEvents;
  /** What coding-agent sessions' API responses used, read from their transcripts. */
  usage: TranscriptUsage;
  /** The git repository of each folder coding-agent events came from. */
  repos: Repos;
  metrics: MetricsStore;
  state: StateStore;
  clock: Clock;
  close(): void;
}

export type LocalSettings = Pick<Settings, 'paths' | 'sync' | 'hooks'>;

/**
 * `readonly`: for commands that only look. A database that does not exist yet is not created: they
 * see an empty one in memory, so `sync status` in a fresh home reports nothing pending.
 */
export function openLocal(settings: LocalSettings, clock: Clock = systemClock, opts: { readonly?: boolean } = {}): Local {
  const missing = opts.readonly && !fs.existsSync(settings.paths.db);
  const db = missing ? openDb(':memory:') : openDb(settings.paths.db, { readonly: opts.readonly });
  const recorder = new Recorder(db, recordOptions(settings, clock));
  return {
    db,
    recorder,
    outbox: recorder.outbox,
    review: new Review(recorder.outbox),
    hookEvents: new HookEvents(db),
    usage: new TranscriptUsage(db, lazyPricing(settings.paths.pricingFile)),
    repos: new Repos(db),
    metrics: new MetricsStore(db),
    state: new StateStore(db),
    clock,
    close: () => db.close(),
  };
}

/** The price table, read when a transcript first needs it (yaml and zod are not on the hook's path). */
function lazyPricing(overrideFile: string | undefined): () => PriceTable {
  let table: PriceTable | undefined;
  return () => (table ??= loadPricing(overrideFile));
}

/** hooks.paths: hashed needs the fleet's salt: the same on every machine, so hashes group alike. */
function pathSalt(s: Pick<Settings, 'secrets'>): string {
  const salt = s.secrets.pathSalt;
  if (!salt || salt.length < 16) {
    throw new ConfigError('hooks.paths: hashed needs CCM_SYNC_PATH_SALT, a secret of at least 16 characters that is the same on every machine of the fleet (so one repository hashes alike everywhere); export it where ccm-sync runs, or set hooks.paths: plain');
  }
  return salt;
}

/** The parts of the settings one sync run needs. */
export function syncRunOptions(s: Pick<Settings, 'system' | 'sync' | 'conflicts' | 'remote' | 'hooks' | 'secrets'>): SyncRunOptions {
  return {
    systemId: s.system.id,
    maxOpsPerRequest: s.sync.max_ops_per_request,
    maxBytesPerRequest: s.sync.max_bytes_per_request,
    pageSize: s.sync.page_size,
    manualTables: s.conflicts.manual_tables,
    hookUploads: s.hooks.upload,
    ...(s.hooks.paths === 'hashed' ? { pathSalt: pathSalt(s) } : {}),
    retry: s.sync.retry,
    selective: s.sync.selective,
    pruneLedgerEveryMs: s.remote.prune_ledger ? s.remote.prune_interval_minutes * 60_000 : undefined,
  };
}

/** Everything one sync run needs, from the local handle, the settings and a transport. */
export function syncContext(
  local: Local,
  settings: Pick<Settings, 'system' | 'sync' | 'conflicts' | 'remote' | 'hooks' | 'secrets'>,
  transport: Transport,
  extra: Pick<SyncContext, 'signal' | 'onProgress' | 'heartbeat'> = {},
): SyncContext {
  return {
    db: local.db, outbox: local.outbox, review: local.review, metrics: local.metrics, state: local.state, transport, clock: local.clock,
    options: syncRunOptions(settings), ...extra,
  };
}
