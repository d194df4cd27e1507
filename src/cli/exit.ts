/**
 * How every command ends when it throws: a redacted message on stderr and the error's exit code.
 * With --json, the same error also goes to stdout as {"error": {"code", "message"}}, so a script
 * that parses stdout sees why the command failed.
 */
import { codeOf, exitCodeOf, messageOf } from '../errors.ts';
import { redact } from '../redact.ts';

export function reportFailure(err: unknown, opts: { json?: boolean } = {}): void {
  const message = redact(messageOf(err));
  process.stderr.write(`ccm-sync: ${message}\n`);
  if (opts.json) process.stdout.write(`${JSON.stringify({ error: { code: codeOf(err), message } })}\n`);
  process.exitCode = exitCodeOf(err);
}

/** A usage error commander already printed on stderr, as JSON on stdout. */
export function reportJsonUsage(message: string): void {
  process.stdout.write(`${JSON.stringify({ error: { code: 'USAGE', message: redact(message.replace(/^error: /, '')) } })}\n`);
}
