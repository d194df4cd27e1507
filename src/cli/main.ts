#!/usr/bin/env node
// The ccm-sync executable. Hooks run `ccm-sync enqueue` once per event, so startup time matters:
// V8's on-disk compile cache spares every run after the first from parsing our dependencies, and
// enqueue is routed straight to its command without loading commander (see enqueue-flags.ts).
import module from 'node:module';

module.enableCompileCache?.();
const args = process.argv.slice(2);
if (args[0] === 'enqueue' && !args.includes('--help') && !args.includes('-h')) {
  const [{ parseEnqueueArgs }, { enqueueCommand }, { reportFailure }] = await Promise.all([
    import('./commands/enqueue-flags.ts'),
    import('./commands/enqueue.ts'),
    import('./exit.ts'),
  ]);
  try {
    await enqueueCommand(parseEnqueueArgs(args.slice(1)));
  } catch (err) {
    reportFailure(err, { json: args.includes('--json') });
  }
} else {
  await import('./program.ts');
}
