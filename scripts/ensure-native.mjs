// Makes sure better-sqlite3's native addon matches the Node that runs our scripts.
//
// Why: the `node` devDependency makes every npm script run on Node 24, but the machine's npm
// builds native addons against the headers it is configured with (often the system Node 20),
// and prebuilt binaries cannot be downloaded on a closed network. When the addon does not load,
// we rebuild it against the headers shipped with the Node that is running this script.
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
