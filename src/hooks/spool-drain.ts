/**
 * Records spooled hook events (./spool.ts) into hook_events, oldest first, so a session's prompts
 * and tool calls are grouped into tasks in the order they happened.
 *
 * Each chunk of files is recorded in one transaction, together with a receipt per file
 * (hook_spool_done); the files go only after the commit. A crash before the commit leaves the
 * files to the next drain; a crash after it leaves receipts, so the next drain removes the files
 * without recording them again. An event that cannot be recorded at all (not JSON, or refused by
 * the table's contract) is moved to spool/claude/rejected/ and logged, never dropped silently.
 */
import path from 'node:path';
import { fs } from '../builtins.ts';
import { InputError, messageOf } from '../errors.ts';
import { checkPayload, PayloadError } from './claude.ts';
import { hookLogFile, logHookFailure } from './failures.ts';
import { ingestClaudeHook, type HookSink } from './ingest.ts';
import type { HookEvents } from '../store/hook-events.ts';
import { rejectedDir, spoolDir, spooledFiles, type SpoolEntry } from './spool.ts';

const CHUNK = 500;

export interface Drained {
  recorded: number;
  rejected: number;
}

function readEntry(file: string): SpoolEntry {
  const entry = JSON.parse(fs.readFileSync(file, 'utf8')) as SpoolEntry;
  if (typeof entry.arrived_at !== 'string' || Number.isNaN(Date.parse(entry.arrived_at))) throw new PayloadError('spool file without an arrival time');
  checkPayload(entry.payload);
  return entry;
}

/**
 * Moves an unrecordable event to rejected/ and logs it. False when the file could not be moved (it
 * then stays in the spool, and is tried again by the next drain, never removed unrecorded).
 */
function reject(home: string, name: string, problem: string): boolean {
  const to = rejectedDir(home);
  try {
    fs.mkdirSync(to, { recursive: true, mode: 0o700 });
    fs.renameSync(path.join(spoolDir(home), name), path.join(to, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true; // another drain moved it, and logged it
    logHookFailure(hookLogFile(home), { at: new Date().toISOString(), problem: `${problem}; it could not be set aside (${messageOf(err)}), so it stays in the spool` });
    return false;
  }
  logHookFailure(hookLogFile(home), { at: new Date().toISOString(), problem: `${problem} (kept in ${path.join(to, name)})` });
  return true;
}

/** Records every spooled event of a home. Throws only when the database cannot be written. */
export function drainSpool(home: string, sink: HookSink & { hookEvents: Pick<HookEvents, 'spoolRecorded' | 'spoolReceipt' | 'spoolForget'> }): Drained {
  const dir = spoolDir(home);
  const out: Drained = { recorded: 0, rejected: 0 };
  const seen = new Set<string>(); // each file once per drain, so one that cannot be moved ends the loop
  for (;;) {
    const chunk = spooledFiles(dir).filter((n) => !seen.has(n)).slice(0, CHUNK);
    if (chunk.length === 0) break;
    for (const n of chunk) seen.add(n);
    const rejected: { name: string; problem: string }[] = [];
    sink.db.transaction(() => {
      for (const name of chunk) {
        if (sink.hookEvents.spoolRecorded(name)) continue;
        let entry: SpoolEntry;
        try {
          entry = readEntry(path.join(dir, name));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // another drain took it
          rejected.push({ name, problem: `unreadable spooled event: ${messageOf(err)}` });
          continue;
        }
        try {
          ingestClaudeHook(sink, entry.payload as Record<string, unknown>, entry.task_env ?? undefined, Date.parse(entry.arrived_at));
          out.recorded++;
        } catch (err) {
          if (!InputError.is(err) && !(err instanceof PayloadError)) throw err; // the database: roll back, retry later
          rejected.push({ name, problem: `event refused: ${messageOf(err)}` });
          continue;
        }
        sink.hookEvents.spoolReceipt(name, new Date().toISOString());
      }
    }).immediate();
    const stuck = new Set(rejected.filter((r) => !reject(home, r.name, r.problem)).map((r) => r.name));
    out.rejected += rejected.length - stuck.size;
    const gone = chunk.filter((n) => !stuck.has(n));
    for (const name of gone) fs.rmSync(path.join(dir, name), { force: true });
    sink.hookEvents.spoolForget(gone);
  }
  return out;
}
