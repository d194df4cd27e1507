#!/usr/bin/env node
// The ccm-sync executable. Hooks run `ccm-sync enqueue` once per event, so startup time matters:
// V8's on-disk compile cache spares every run after the first from parsing our dependencies, and
// enqueue is routed straight to its command without loading commander (see enqueue-flags.ts).
//
// First of all, the Node guard: on Node < 22 better-sqlite3 would end the process with a
// segmentation fault, so say what is wrong before anything native loads.
import module from 'node:module';
import { nodeProblem } from '../node-guard.ts';

const tooOld = nodeProblem();
if (tooOld) {
  process.stderr.write(`${tooOld}\n`);
  process.exit(1);
}
module.enableCompileCache?.();
const args = process.argv.slice(2);
if (args[0] === 'enqueue' && !args.includes('--help') && !args.includes('-h')) {
  const [{ parseEnqueueArgs }, { enqueueCommand }, { reportFailure, reportUncaught }] = await Promise.all([
    import('./commands/enqueue-flags.ts'),
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
