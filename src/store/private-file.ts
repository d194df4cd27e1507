/**
 * The local databases hold the recorded work: only their owner may read them. SQLite gives its
 * -wal and -shm files the database file's mode, so creating the database 0600 is enough; a
 * database an older ccm-sync created readable by others is narrowed on open.
 */
import { fs } from '../builtins.ts';
import path from 'node:path';
import { makePrivateDir } from '../config/home.ts';

export function preparePrivateFile(file: string): void {
  if (file === ':memory:' || file === '') return;
  makePrivateDir(path.dirname(file));
  if (!fs.existsSync(file)) {
    fs.closeSync(fs.openSync(file, 'a', 0o600));
    return;
  }
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      const st = fs.statSync(f);
      if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) fs.chmodSync(f, st.mode & 0o700);
    } catch {
      // absent -wal/-shm, or not ours to change: leave it
    }
  }
}
