/**
 * A full disk under the home. A sync that cannot write (settle, state) stops there; nothing
 * queued is lost, since SQLite rolls back what it could not commit. The daemon keeps running, the
 * `disk_full` alert shows it, and once space is free again the daemon syncs by itself: the alert
 * check (every 30 s) looks at the free space and enqueues a `retry` sync.
 */
import fs from 'node:fs';

/** Bytes free for this user on the file system holding `dir` (Infinity when it cannot tell). */
export function freeBytes(dir: string): number {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return Infinity;
  }
}


export class DiskWatch {
  private full = false;
  private readonly dir: string;
  private readonly minFree: number;
  private readonly onFree: () => void;

  constructor(dir: string, minFreeBytes: number, onFree: () => void) {
    this.dir = dir;
    this.minFree = minFreeBytes;
    this.onFree = onFree;
  }

  get waiting(): boolean {
    return this.full;
  }

  /** A write failed for lack of space. */
  noticed(): void {
    this.full = true;
  }

  /** Called with the alert check: when space has returned, says so once. */
  check(): void {
    if (this.full && freeBytes(this.dir) >= this.minFree) {
      this.full = false;
      this.onFree();
    }
  }
}
