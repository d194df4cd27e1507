/**
 * Coding-agent hook events reaching the daemon: the spool that `ccm-sync hook claude` writes
 * (recorded as soon as a file lands: a directory watch, and a sweep every few seconds for file
 * systems whose watch misses events), and the http hook route POST /api/hooks/claude, which
 * records at once. Either way the thresholds are checked afterwards, so a third failed command
 * starts a sync as any third error does.
 */
import { watch, type FSWatcher } from 'node:fs';
import type http from 'node:http';
import type { Logger } from '../log.ts';
import { InputError, messageOf } from '../errors.ts';
import { PayloadError } from '../hooks/claude.ts';
import { hookLogFile, logHookFailure } from '../hooks/failures.ts';
import { ingestClaudeHook } from '../hooks/ingest.ts';
import { drainSpool } from '../hooks/spool-drain.ts';
import { spoolDir, spoolPayload } from '../hooks/spool.ts';
import { makePrivateDir } from '../config/home.ts';
import type { Local } from '../local.ts';
import { MalformedBody, type ApiRoutes } from './api.ts';

export interface HookIntake {
  /** Records what the spool holds now. */
  drain(): void;
  routes: ApiRoutes;
  stop(): void;
}

const SWEEP_MS = 5000;
const SETTLE_MS = 50;

export function startHookIntake(home: string, local: Local, log: Logger, recorded: () => void): HookIntake {
  const dir = spoolDir(home);
  makePrivateDir(dir);
  // A transcript that cannot be read (a bad price table, say) is logged once per problem; the
  // events are recorded all the same, and their usage is read with the next event that reads.
  let lastProblem = '';
  const sink = {
    ...local,
    onTranscriptProblem: (err: unknown) => {
      if (messageOf(err) !== lastProblem) log.warn({ err: (lastProblem = messageOf(err)) }, 'a coding-agent transcript could not be read; its usage is missing from task summaries until it can');
      local.state.set('transcript_problem', { error: messageOf(err), at: new Date(local.clock.now()).toISOString() });
    },
  };
  /** Records what the spool holds; a failure stays spooled, is logged and shows in `sync status`. */
  const drain = () => {
    try {
      const r = drainSpool(home, sink);
      if (r.recorded > 0) recorded();
      if (r.recorded || r.rejected) log.debug(r, 'hook spool recorded');
      if (local.state.get('hook_intake')) local.state.delete('hook_intake');
    } catch (err) {
      log.warn({ err: messageOf(err) }, 'hook events could not be recorded yet; they stay spooled');
      try {
        local.state.set('hook_intake', { error: messageOf(err), at: new Date(local.clock.now()).toISOString() });
      } catch {
        // the database is what failed; the spooled count in status still shows it
      }
    }
  };
  let pending: NodeJS.Timeout | undefined;
  const soon = () => {
    pending ??= setTimeout(() => {
      pending = undefined;
      drain();
    }, SETTLE_MS);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, (_event, name) => {
      if (name && !String(name).startsWith('.')) soon();
    });
    watcher.on('error', () => undefined);
  } catch (err) {
    log.warn({ err: messageOf(err) }, 'cannot watch the hook spool; sweeping it every few seconds');
  }
  const sweep = setInterval(drain, SWEEP_MS);
  drain();

  const routes = hookRoutes(home, dir, sink, recorded);
  return {
    drain,
    routes,
    stop() {
      clearInterval(sweep);
      if (pending) clearTimeout(pending);
      watcher?.close();
    },
  };
}

/** The route Claude Code's http hook posts to (`hook install --http`). */
function hookRoutes(home: string, dir: string, sink: Local & { onTranscriptProblem(err: unknown): void }, recorded: () => void): ApiRoutes {
  return {
    // Claude Code's http hook: the payload is the body. The answer is 204 and empty, always:
    // Claude Code reads a JSON answer as a decision, and any error as a notice in the transcript.
    // An event the database cannot take now is spooled, as the command hook would have done.
    'POST /api/hooks/claude': Object.assign((body: unknown, headers: http.IncomingHttpHeaders) => {
      const header = headers['x-ccm-task-id'];
      const taskEnv = typeof header === 'string' && header !== '' ? header : undefined;
      const now = sink.clock.now();
      const fail = (problem: string) => logHookFailure(hookLogFile(home), { at: new Date(now).toISOString(), problem: `http hook: ${problem.split('\n')[0]}` });
      if (body instanceof MalformedBody) {
        fail(`malformed payload: ${body.bytes} bytes that are not JSON`);
        return undefined;
      }
      try {
        ingestClaudeHook(sink, body as Record<string, unknown>, taskEnv, now);
        recorded();
      } catch (err) {
        if (err instanceof PayloadError || InputError.is(err)) {
          fail(messageOf(err));
        } else {
          try {
            spoolPayload(dir, JSON.stringify(body), taskEnv, now);
          } catch (spoolErr) {
            fail(`${messageOf(err)}; spooling it failed too: ${messageOf(spoolErr)}`);
          }
        }
      }
      return undefined;
    }, { takesMalformed: true }),
  };
}
