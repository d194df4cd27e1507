/** How commands print: JSON for scripts (--json), plain lines for people. Secrets are redacted. */
import { redact } from '../redact.ts';

export { ago, byteChange, bytes } from '../text.ts';

export interface GlobalOptions {
  config?: string;
  json?: boolean;
}

export function emit(opts: GlobalOptions, data: unknown, human: () => string): void {
  process.stdout.write(redact(opts.json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`));
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.slice(1).map(line)].join('\n');
}
