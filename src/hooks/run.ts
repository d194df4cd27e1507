/**
 * `ccm-sync hook claude`: the process Claude Code starts for each hook event. It reads the payload
 * on stdin, spools it in the machine's home (./spool.ts), and exits 0 with nothing on stdout,
 * whatever happens: a hook that fails shows an error in the agent's transcript, and one that exits
 * 2 blocks the agent. What goes wrong (a malformed payload, an unwritable home) is written to the
 * home's logs/hooks.log, where `sync status`, the dashboard and `hook status` count it.
 *
 * It loads no config and opens no database, so its cost is Node's startup and a file write
 * (bench/hook.mjs measures it against a bare `node -e ''`), and a database locked by a draining
 * daemon never makes the agent wait.
 */
import { fs } from '../builtins.ts';
import { ensureHome, findHome } from '../config/home.ts';
import { parsePayload } from './claude.ts';
import { hookLogFile, logHookFailure } from './failures.ts';
import { spoolDir, spoolPayload } from './spool.ts';

/** The payload on stdin, to its end. */
function readStdin(): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.allocUnsafe(1 << 16);
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue; // a non-blocking pipe with nothing in it yet
      if (code === 'EOF') break;
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Event and session of a payload that could not be spooled, for the log (never its contents). */
function whatItWas(text: string): { event?: string; session?: string } {
  const event = /"hook_event_name"\s*:\s*"([A-Za-z]{1,64})"/.exec(text)?.[1];
  const session = /"session_id"\s*:\s*"([\w-]{1,64})"/.exec(text)?.[1];
  return { ...(event ? { event } : {}), ...(session ? { session } : {}) };
}

export function runClaudeHook(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): void {
  let text = '';
  let logFile: string | undefined;
  try {
    const home = findHome({ env, cwd });
    logFile = hookLogFile(home.dir);
    text = readStdin();
    parsePayload(text);
    ensureHome(home, () => undefined);
    spoolPayload(spoolDir(home.dir), text, env.CCM_TASK_ID, Date.now());
  } catch (err) {
    const problem = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);
    logHookFailure(logFile, { at: new Date().toISOString(), problem, ...whatItWas(text) });
  } finally {
    process.exitCode = 0;
  }
}
