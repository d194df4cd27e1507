// Makes sure better-sqlite3's native addon loads on the Node that runs our scripts.
//
// Normally there is nothing to do: better-sqlite3 13 ships Node-API binaries for every common
// platform in its own package (prebuilds/), which load on any Node it supports, and nothing is
// compiled (scripts/lockfile-gypfile.mjs keeps `npm ci` from running node-gyp). It does not load
// when a build/ folder compiled for another Node is left from an older install (better-sqlite3
// prefers it), or on a platform with no shipped binary. Then we rebuild it once, against the
// headers shipped with the Node running this script, and say so; that needs build tools.
import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

function loads() {
  try {
    const Database = require('better-sqlite3');
    new Database(':memory:').close();
    return true;
  } catch (err) {
    return err;
  }
}

function headersDir() {
  const exec = realpathSync(process.execPath);
  const candidates = [
    path.resolve(path.dirname(exec), '..'),
    path.resolve(path.dirname(exec), '..', 'node_modules', `node-${process.platform}-${process.arch}`),
  ];
  return candidates.find((dir) => existsSync(path.join(dir, 'include', 'node', 'node_version.h')));
}

const first = loads();
if (first !== true) {
  const nodedir = headersDir();
  console.log(`ensure-native: better-sqlite3 does not load on ${process.version} (${first.message.split('\n')[0]}); rebuilding against ${nodedir ?? 'downloaded headers'}`);
  const npmCli = process.env.npm_execpath;
  const env = { ...process.env, ...(nodedir ? { npm_config_nodedir: nodedir } : {}) };
  const args = ['rebuild', 'better-sqlite3', '--foreground-scripts'];
  if (npmCli) execFileSync(process.execPath, [npmCli, ...args], { stdio: 'inherit', env });
  else execFileSync('npm', args, { stdio: 'inherit', env });
  const second = loads();
  if (second !== true) {
    console.error(`ensure-native: better-sqlite3 still does not load: ${second.message}`);
    process.exit(1);
  }
}
console.log(`ensure-native: better-sqlite3 loads on Node ${process.version}`);
