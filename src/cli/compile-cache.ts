/**
 * V8's on-disk compile cache, in a folder of this user's own. Node's default is
 * `$TMPDIR/node-compile-cache`, shared and owned by whoever made it first, so another local user
 * could plant entries there. Ours is `$XDG_CACHE_HOME/ccm-sync` (else `~/.cache/ccm-sync`), 0700;
 * when it cannot be made or is not ours and private, nothing is cached (only slower).
 */
import fs from 'node:fs';
import module from 'node:module';
import os from 'node:os';
import path from 'node:path';

export function enablePrivateCompileCache(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!module.enableCompileCache) return undefined;
  try {
    const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
    const dir = path.join(base, 'ccm-sync', 'node-compile-cache');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(dir);
    const uid = process.getuid?.();
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) return undefined;
    module.enableCompileCache(dir);
    return dir;
  } catch {
    return undefined; // no writable home (a service user, a read-only one): run without the cache
  }
}
