#!/usr/bin/env node
// The ccm-sync executable. Hooks run `ccm-sync enqueue` once per event, so startup time matters:
// V8's on-disk compile cache spares every run after the first from parsing our dependencies, and
// enqueue is routed straight to its command without loading commander (see enqueue-flags.ts).
//
// First of all, the Node guard: on Node < 22 better-sqlite3 would end the process with a
// segmentation fault, so say what is wrong before anything native loads.
import { nodeProblem } from '../node-guard.ts';
import { enablePrivateCompileCache } from './compile-cache.ts';

const args = process.argv.slice(2);
// `ccm-sync hook claude` is what Claude Code runs for every event: it must exit 0 whatever
// happens (src/hooks/run.ts), and it is routed here before anything else loads.
const hookArgs = args[0] === 'hook' && (args.length === 1 || (args.length === 2 && args[1] === 'claude'));
const tooOld = nodeProblem();
if (tooOld) {
  process.stderr.write(`${tooOld}\n`);
  process.exit(hookArgs ? 0 : 1);
}
// On a terminal (a person typing `ccm-sync hook`) it is the usual command, with its --help.
const isHook = hookArgs && !process.getBuiltinModule('node:tty').isatty(0);
enablePrivateCompileCache();
if (isHook) {
  const { runClaudeHook } = await import('../hooks/run.ts');
  runClaudeHook();
} else if (args[0] === 'enqueue' && !args.includes('--help') && !args.includes('-h')) {
  const [{ parseEnqueueArgs }, { enqueueCommand }, { reportFailure, reportUncaught }] = await Promise.all([
    import('./enqueue-flags.ts'),
    import('./commands/enqueue.ts'),
    import('./exit.ts'),
  ]);
  reportUncaught();
  try {
    await enqueueCommand(parseEnqueueArgs(args.slice(1)));
  } catch (err) {
    reportFailure(err, { json: args.includes('--json') });
  }
} else {
  (await import('./exit.ts')).reportUncaught();
  await import('./program.ts');
}
