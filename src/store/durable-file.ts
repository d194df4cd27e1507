/**
 * Files a person owns (Claude Code's settings, config.yaml, a signing key, api.token, the config
 * cache) are replaced, never rewritten in place: the new text goes to a temporary file beside the
 * old one, is fsynced, renamed over it, and the folder is fsynced so the rename itself is on disk.
 * A power cut at any instant leaves the old whole file or the new whole file, never an empty or
 * half-written one. No dependencies: the enqueue and hook paths import it.
 */
import path from 'node:path';
import { fs } from '../builtins.ts';

/** fsyncs a folder, so that the names created, renamed or removed in it survive a power cut. */
export function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    // Some file systems cannot fsync a directory (EINVAL, EISDIR on a few FUSE and network ones);
    // there the rename is as durable as that file system makes it.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'ENOTSUP' && code !== 'EPERM') throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export interface DurableWriteOptions {
  /** Mode of the new file (default: the old file's, else 0600). */
  mode?: number;
  /** Create the folder (0700) when it is missing. */
  mkdir?: boolean;
  /** Fail if the file exists (an exclusive create that is still atomic). */
  exclusive?: boolean;
}

/** Replaces `file` with `data` atomically and durably (write temp, fsync, rename, fsync folder). */
export function writeFileDurably(file: string, data: string | Uint8Array, opts: DurableWriteOptions = {}): void {
  const dir = path.dirname(file);
  if (opts.mkdir) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  let mode = opts.mode;
  if (mode === undefined) {
    try {
      mode = fs.statSync(file).mode & 0o7777;
    } catch {
      mode = 0o600;
    }
  }
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  try {
    if (opts.exclusive) {
      // link() fails with EEXIST where rename() would replace: the exclusive create, still atomic.
      fs.linkSync(tmp, file);
      fs.rmSync(tmp, { force: true });
    } else {
      fs.renameSync(tmp, file);
    }
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDir(dir);
}

/** Writes a new file durably: its data fsynced, then its folder (for files that are created once). */
export function createFileDurably(file: string, data: string | Uint8Array, mode = 0o600): void {
  writeFileDurably(file, data, { mode, exclusive: true });
}
