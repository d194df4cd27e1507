import { InputError } from '../errors.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses "500ms", "30s", "30m", "1h" into milliseconds. */
export function parseSpan(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new InputError(`${what} must be a number with a unit (ms, s, m or h), e.g. 30s or 30m; got ${JSON.stringify(text)}`);
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}
