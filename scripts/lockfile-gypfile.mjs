// Keeps `npm ci` from compiling better-sqlite3.
//
// Why: better-sqlite3 13 ships its binaries in its own package (prebuilds/) and says
// `"gypfile": false`, so npm should not run `node-gyp rebuild` for its binding.gyp. But npm (11.x)
// decides that from the lockfile entry, and the lockfile does not keep `gypfile`: without it,
// `npm ci` runs node-gyp, which needs Python, make, a C++ compiler and Node's headers (downloaded).
// This puts `"gypfile": false` back into the lockfile entry of every installed package that declares
// it. `npm install` drops it again; test/install.test.ts fails until this is run.
//
//   node scripts/lockfile-gypfile.mjs           add what is missing to package-lock.json
//   node scripts/lockfile-gypfile.mjs --check   list what is missing; exit 1 if anything is
//   … --lockfile FILE                          another lockfile than ./package-lock.json
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Lockfile locations of installed packages that declare gypfile: false but whose entry lacks it. */
export function missingGypfile(lock, dir = root) {
  const missing = [];
  for (const [location, entry] of Object.entries(lock.packages ?? {})) {
    if (!location.startsWith('node_modules/') || entry.gypfile === false) continue;
    const manifest = path.join(dir, location, 'package.json');
    if (!existsSync(path.join(dir, location, 'binding.gyp')) || !existsSync(manifest)) continue;
    if (JSON.parse(readFileSync(manifest, 'utf8')).gypfile === false) missing.push(location);
  }
  return missing;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--lockfile');
  const file = at > 0 ? path.resolve(process.argv[at + 1]) : path.join(root, 'package-lock.json');
  const lock = JSON.parse(readFileSync(file, 'utf8'));
  const missing = missingGypfile(lock);
  if (process.argv.includes('--check')) {
    for (const location of missing) console.error(`package-lock.json: ${location} lacks "gypfile": false (run: node scripts/lockfile-gypfile.mjs)`);
    process.exit(missing.length ? 1 : 0);
  }
  for (const location of missing) lock.packages[location].gypfile = false;
  // Beside it, then renamed over it: an interrupted write leaves the old file, never half a new one.
  writeFileSync(`${file}.tmp`, `${JSON.stringify(lock, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  console.log(missing.length ? `package-lock.json: "gypfile": false added for ${missing.join(', ')}` : 'package-lock.json: nothing to add');
}
