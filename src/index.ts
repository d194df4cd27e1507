/**
 * ccm-sync as a library: the same functions the CLI calls.
 *
 *   const settings = loadSettings();            // config file + env, validated once
 *   const local = openLocal(settings);          // the local SQLite database
 *   local.recorder.record([{ operation: 'UPDATE', table_name: 'tasks', record_id: '1', record_data: { status: 'done' } }]);
 *   const daemon = await startDaemon(settings); // or run one sync: runSync(...)
 */
import './require-node.ts';

export { loadSettings, type Settings, type LoadOptions } from './config/load.ts';
export { openLocal, syncRunOptions, type Local } from './local.ts';
export { startDaemon, type Daemon } from './daemon/daemon.ts';
export { runSync, type SyncContext, type SyncProgress } from './workers/sync-run.ts';
export { openTransport, type Transport } from './remote/index.ts';
export { migrateRemote } from './remote/migrations.ts';
export { statusSnapshot, type StatusSnapshot } from './monitor/status.ts';
export { evaluateAlerts, type Alert } from './monitor/alerts.ts';
export type { Packager, Packaged } from './package/types.ts';
export * from './errors.ts';
export * from './types.ts';
