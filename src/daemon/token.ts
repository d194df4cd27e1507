/**
 * The local API's bearer token: 32 random bytes in a file only its owner can read (0600). The
 * daemon creates it on first start; clients (CLI, TUI) read it. A file readable by others is
 * tightened to 0600 rather than trusted as is.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createFileDurably } from '../store/durable-file.ts';
import path from 'node:path';
import { registerSecret } from '../redact.ts';

export function ensureToken(file: string): string {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    try {
      createFileDurably(file, `${randomBytes(32).toString('hex')}\n`, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process made it first
    }
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return readToken(file)!;
}

export function readToken(file: string): string | undefined {
  try {
    const token = readFileSync(file, 'utf8').trim();
    registerSecret(token);
    return token || undefined;
  } catch {
    return undefined;
  }
}

/** Whether an Authorization header carries the token (the scheme name is case-insensitive). */
export function tokenMatches(expected: string, header: string | undefined): boolean {
  const m = /^bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const given = m?.[1] ?? '';
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
