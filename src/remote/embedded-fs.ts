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
import { chmodSync, closeSync, fdatasyncSync, openSync, readdirSync, statSync } from 'node:fs';
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

/**
 * Makes the embedded remote's committed work durable. PGlite's file system never calls fsync
 * (Emscripten's NODEFS has no fsync), so a commit lives in the OS page cache until the kernel
 * writes it: safe from a crash of this process, not from a power cut. The outbox marks operations
 * synced once the remote has them, so after each upload the WAL segments written since the last
 * flush are fsynced here (one or two files; a few milliseconds).
 */
export function flushWal(dataDir: string, sinceMs: number): void {
  const wal = path.join(dataDir, 'pg_wal');
  for (const name of readdirSync(wal)) {
    const file = path.join(wal, name);
    const st = statSync(file);
    if (!st.isFile() || st.mtimeMs < sinceMs) continue;
    const fd = openSync(file, 'r+');
    try {
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
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
