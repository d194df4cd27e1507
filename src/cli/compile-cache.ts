/**
 * V8's on-disk compile cache, in a folder of this user's own. Node's default is
 * `$TMPDIR/node-compile-cache`, shared and owned by whoever made it first, so another local user
 * could plant entries there. Ours is `$TMPDIR/ccm-sync-<uid>/node-compile-cache`, 0700 and
 * checked to be this user's (a folder someone else made first is not used); when it cannot be
 * made or is not ours and private, nothing is cached (only slower). Nothing goes in the user's
 * home, so a command that only looks creates nothing there.
 */
import fs from 'node:fs';
import module from 'node:module';
import os from 'node:os';
import path from 'node:path';

/** This user's private folder in the temp folder, or undefined when it is missing or not ours alone. */
function privateTmp(env: NodeJS.ProcessEnv): string | undefined {
  const uid = process.getuid?.();
  const dir = path.join(env.TMPDIR && path.isAbsolute(env.TMPDIR) ? env.TMPDIR : os.tmpdir(), `ccm-sync-${uid ?? os.userInfo().username}`);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
  }
  // lstat: a symlink planted in its place is not followed, and a folder another user made is refused.
  const st = fs.lstatSync(dir);
  return st.isDirectory() && (uid === undefined || st.uid === uid) && (st.mode & 0o077) === 0 ? dir : undefined;
}

export function enablePrivateCompileCache(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!module.enableCompileCache) return undefined;
  try {
    const mine = privateTmp(env);
    if (!mine) return undefined;
    const dir = path.join(mine, 'node-compile-cache');
    module.enableCompileCache(dir);
    return dir;
  } catch {
    return undefined; // an unwritable temp folder: run without the cache (only slower)
  }
}
