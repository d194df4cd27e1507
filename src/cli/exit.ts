/**
 * How every command ends when it throws: a redacted message on stderr and the error's exit code.
 * With --json, the same error also goes to stdout as {"error": {"code", "message"}}, so a script
 * that parses stdout sees why the command failed.
 */
import { codeOf, exitCodeOf, messageOf } from '../errors.ts';
import { redact } from '../redact.ts';

/** A message without the stack-trace lines some libraries fold into it. */
function withoutStack(message: string): string {
  return message.split('\n').filter((line) => !/^\s+at \S/.test(line)).join('\n').trimEnd();
}

/** A file system error a person can act on, said plainly: a full disk names the file it could not write. */
function plainly(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOSPC') return `disk full: could not write ${e.path ?? 'a file'} (ENOSPC); free space and retry. Nothing recorded before is lost`;
  return messageOf(err);
}

export function reportFailure(err: unknown, opts: { json?: boolean } = {}): void {
  const message = redact(withoutStack(plainly(err)));
  process.stderr.write(`ccm-sync: ${message}\n`);
  if (opts.json) process.stdout.write(`${JSON.stringify({ error: { code: codeOf(err), message } })}\n`);
  process.exitCode = exitCodeOf(err);
}

/** A usage error commander already printed on stderr, as JSON on stdout. */
export function reportJsonUsage(message: string): void {
  process.stdout.write(`${JSON.stringify({ error: { code: 'USAGE', message: redact(message.replace(/^error: /, '')) } })}\n`);
}

/**
 * The last resort for an error no command caught (a bug): one redacted line and exit 1, not a
 * stack trace. CCM_SYNC_DEBUG=1 prints the stack too, for a bug report.
 */
export function reportUncaught(): void {
  const last = (err: unknown) => {
    const debug = process.env.CCM_SYNC_DEBUG && err instanceof Error && err.stack ? `\n${redact(err.stack)}` : '';
    process.stderr.write(`ccm-sync: unexpected error: ${redact(withoutStack(messageOf(err)))}${debug}\n` +
      (debug ? '' : 'ccm-sync: this is a bug; run again with CCM_SYNC_DEBUG=1 for the details to report\n'));
    process.exit(1);
  };
  process.on('uncaughtException', last);
  process.on('unhandledRejection', last);
  // `ccm-sync … | head`: the reader has gone, which is no error of ours; stop quietly.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') return last(err);
      process.exit(process.exitCode ?? 0);
    });
  }
}
