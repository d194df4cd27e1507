/**
 * One daemon per home. The daemon holds an exclusive SQLite lock on `<home>/daemon.lock` for its
 * whole life (locking_mode EXCLUSIVE keeps the lock of its first write until the connection
 * closes). The kernel drops the lock when the process ends, however it ends, so a kill -9 never
 * leaves a stale lock behind, and a second daemon finds it taken at once, whatever its port.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { DaemonRunningError } from '../errors.ts';
import { preparePrivateFile } from '../store/private-file.ts';

export interface HomeLock {
  release(): void;
}

/** Takes the home's daemon lock, or throws DaemonRunningError naming `holder()` (who has it). */
export function lockHome(home: string, holder: () => string | undefined): HomeLock {
  const file = path.join(home, 'daemon.lock');
  preparePrivateFile(file);
  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS daemon (pid INTEGER NOT NULL)');
    db.prepare('INSERT INTO daemon (pid) VALUES (?)').run(process.pid);
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
    const who = holder() ?? 'another ccm-sync daemon';
    throw new DaemonRunningError(`${who} already runs on the home ${home}; one daemon per home (stop it with \`ccm-sync stop\`, or use another home)`);
  }
  return { release: () => db.close() };
}
