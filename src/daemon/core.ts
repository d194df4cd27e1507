// What the daemon's parts share: its settings, store (with its clock), log, sync thread and link state.
import type { Settings } from '../config/load.ts';
import type { Local } from '../local.ts';
import type { Logger } from '../log.ts';
import type { SyncWorkerHost } from '../workers/sync-thread.ts';
import type { ConnectionMonitor } from './connection.ts';

export interface DaemonCore {
  settings: Settings;
  local: Local;
  log: Logger;
  worker: SyncWorkerHost;
  conn: ConnectionMonitor;
}
