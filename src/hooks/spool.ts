/**
 * The hook spool. `ccm-sync hook claude` runs once per coding-agent event, on the agent's critical
 * path, so it neither loads the config nor opens the database (which a draining daemon may hold
 * for a moment): it checks that the payload is a JSON object naming its event and publishes it as
 * one file in <home>/spool/claude/. The file is written under a temporary name and renamed, so it
 * is there whole or not at all. ccm-sync records spooled events into hook_events
 * (./spool-drain.ts): the daemon as soon as one lands, `sync now` and `sync drain` before they sync.
 *
 * File names sort by arrival: <ms since epoch, 15 digits>-<ns within the ms>-<pid>.json.
 */
import path from 'node:path';
import { syncDir } from '../store/durable-file.ts';
import { fs } from '../builtins.ts';

export const SPOOL_EXT = '.json';

export function spoolDir(home: string): string {
  return path.join(home, 'spool', 'claude');
}

export function rejectedDir(home: string): string {
  return path.join(spoolDir(home), 'rejected');
}

/** One spooled event: when it arrived, the CCM_TASK_ID it arrived with, and the payload as sent. */
export interface SpoolEntry {
  arrived_at: string;
  task_env: string | null;
  payload: unknown;
}

/** Publishes one payload (already checked to be a JSON object) and returns its file name. */
export function spoolPayload(dir: string, payloadText: string, taskEnv: string | undefined, nowMs: number): string {
  const sub = Number(process.hrtime.bigint() % 1_000_000n);
  const name = `${String(nowMs).padStart(15, '0')}-${String(sub).padStart(6, '0')}-${process.pid}${SPOOL_EXT}`;
  const entry = `{"arrived_at":${JSON.stringify(new Date(nowMs).toISOString())},"task_env":${JSON.stringify(taskEnv || null)},"payload":${payloadText.trim()}}\n`;
  const tmp = path.join(dir, `.${name}.tmp`);
  try {
    let fd: number;
    try {
      fd = fs.openSync(tmp, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      fd = fs.openSync(tmp, 'wx', 0o600);
    }
    try {
      fs.writeFileSync(fd, entry);
      fs.fsyncSync(fd); // the event's bytes on disk before its name is
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path.join(dir, name));
    syncDir(dir); // and its name, before the hook says yes
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`cannot write the event to ${dir} (${code}): is the home read-only, or its disk full?`, { cause: err });
  }
  return name;
}

/** Spooled files waiting to be recorded, oldest first. */
export function spooledFiles(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((n) => n.endsWith(SPOOL_EXT) && !n.startsWith('.')).sort();
  } catch {
    return [];
  }
}

/** How many spooled events wait, and how many were set aside as unrecordable. */
export function spoolCounts(home: string): { waiting: number; rejected: number } {
  return { waiting: spooledFiles(spoolDir(home)).length, rejected: spooledFiles(rejectedDir(home)).length };
}
