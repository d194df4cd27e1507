/** How every command ends when it throws: a redacted message on stderr and the error's exit code. */
import { exitCodeOf, messageOf } from '../errors.ts';
import { redact } from '../redact.ts';

export function reportFailure(err: unknown): void {
  process.stderr.write(`ccm-sync: ${redact(messageOf(err))}\n`);
  process.exitCode = exitCodeOf(err);
}
