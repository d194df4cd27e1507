/**
 * What `ccm-sync hook` could not record, and why: one JSON line per failure in the home's
 * logs/hooks.log (the previous 256 KiB in hooks.log.1). The hook never fails the agent, so this
 * log is how a person learns of it: `sync status`, the dashboard and `hook status` count the lines
 * of the last 24 hours.
 * The payload itself is never written here (it may hold anything the agent saw).
 */
import path from 'node:path';
import { fs, os } from '../builtins.ts';

const MAX_BYTES = 256 * 1024;

export interface HookFailure {
  at: string;
  problem: string;
  event?: string;
  session?: string;
  /** In the fallback log, which one machine's homes share: the home it was for, when known. */
  home?: string;
}

export interface HookFailures {
  count: number;
  last?: HookFailure;
}

export function hookLogFile(home: string): string {
  return path.join(home, 'logs', 'hooks.log');
}

/** Where failures go when even the home cannot be created (an unwritable $HOME, a full disk). */
export function fallbackHookLog(): string {
  return path.join(os.tmpdir(), `ccm-sync-hooks-${process.getuid?.() ?? 'user'}.log`);
}

export function logHookFailure(file: string | undefined, failure: HookFailure): void {
  for (const target of [...(file ? [file] : []), fallbackHookLog()]) {
    const home = file && target !== file ? path.dirname(path.dirname(file)) : undefined;
    const line = `${JSON.stringify(home ? { ...failure, home } : failure)}\n`;
    try {
      fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
      try {
        if (fs.statSync(target).size > MAX_BYTES) fs.renameSync(target, `${target}.1`);
      } catch {
        // no log yet
      }
      fs.appendFileSync(target, line, { mode: 0o600 });
      return;
    } catch {
      // try the fallback; if that fails too, there is nowhere left to say it
    }
  }
}

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Failures logged since `sinceMs` (the day before, for status) and kept by `mine`, and the last of them. */
export function hookFailures(file: string, sinceMs: number, mine: (f: HookFailure) => boolean = () => true): HookFailures {
  const lines = (read(`${file}.1`) + read(file)).split('\n').filter(Boolean);
  const recent: HookFailure[] = [];
  for (const line of lines) {
    try {
      const f = JSON.parse(line) as HookFailure;
      if (Date.parse(f.at) >= sinceMs && mine(f)) recent.push(f);
    } catch {
      // a torn line: not a failure we can report
    }
  }
  return { count: recent.length, last: recent.at(-1) };
}
