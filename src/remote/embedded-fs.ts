/**
 * How the embedded remote (PGlite) is started and kept private. Measured in
 * bench/memory.mjs; the reasons, briefly:
 *
 * - V8 recompiles PGlite's 9 MB wasm module with TurboFan while it runs, which costs 250–550 MiB
 *   of short-lived memory. Liftoff code alone is about 25% slower on a drain and needs none of it.
 *   The flags are process-wide and must be set before the module compiles.
 * - shared_buffers defaults to 128 MB, all of it resident from the start in the wasm heap; 16 MB
 *   is plenty for one writer.
 * - initdb starts a second Postgres instance in the calling process (600+ MiB at its peak): it runs
 *   once per data directory, in a short-lived child process (embedded-init.ts), never in the daemon.
 * - PGlite writes the files it copies with mode 0666 and folders by the umask: every open ends with
 *   a pass that makes files 0600 and folders 0700 (about 15 ms).
 */
import { chmodSync, readdirSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';

export function lowMemoryWasm(): void {
  v8.setFlagsFromString('--no-wasm-tier-up');
  v8.setFlagsFromString('--no-wasm-dynamic-tiering');
}

/** Postgres options for PGlite (startParams replaces PGlite's defaults, so it extends them). */
export function startParams(defaults: readonly string[]): string[] {
  return [...defaults, '-c', 'shared_buffers=16MB'];
}

/** chmod -R: folders 0700, files 0600. */
export function tighten(dir: string): void {
  chmodSync(dir, 0o700);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) tighten(p);
    else if (e.isFile()) chmodSync(p, 0o600);
  }
}
