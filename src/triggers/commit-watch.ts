/**
 * Stage 2, triggers: noticing what other processes record (`ccm-sync enqueue` from a hook, the library), so that
 * threshold and event triggers fire within milliseconds.
 *
 * Every commit touches the database's WAL file, and a watch on the database directory (inotify)
 * tells us at once; the check is one read of the counters. We chose the watch over a local socket
 * because it costs the enqueue path nothing (no connect, no daemon needed), and over uploading
 * from the CLI because that would load a remote client in every hook call. SQLite makes a commit
 * visible through the memory-mapped -shm index, which raises no event, so the last event of a
 * commit can arrive just before the commit is readable: we look at once (an urgent operation
 * should not wait), again 10 ms after the last event of a burst, and once a second whatever
 * happens, so that nothing a racing look missed waits for long.
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

export interface CommitWatch {
  stop(): void;
}

/** Calls `check` soon after every commit to `dbFile` by any process, and once a second. */
export function watchCommits(dbFile: string, check: () => void): CommitWatch {
  let trailing: NodeJS.Timeout | undefined;
  const base = path.basename(dbFile);
  const watcher: FSWatcher = watch(path.dirname(dbFile), (_event, file) => {
    if (!file || !file.startsWith(base)) return;
    if (!trailing) check();
    clearTimeout(trailing);
    trailing = setTimeout(() => {
      trailing = undefined;
      check();
    }, 10);
  });
  const safety = setInterval(check, 1000);
  return {
    stop() {
      clearTimeout(trailing);
      clearInterval(safety);
      watcher.close();
    },
  };
}
