// Runs after `npm install` / `npm ci`, for this repository and for everyone who installs the
// package. Plain Node, no dependencies: it may run on any Node.
//
// 1. The Node guard: ccm-sync needs Node 22.14 or later (better-sqlite3 13 crashes older Node with
//    a segmentation fault, not a message). An older Node fails
//    the install here, saying so (when npm runs this script at all).
// 2. In this repository only (patches/ and the patch-package devDependency are here): apply the
//    fixes in patches/ to node_modules. Users get liteque already patched: `npm run build` copies
//    the patched build into vendor/liteque/ (scripts/vendor-liteque.mjs), the package carries it,
//    so nothing is patched on their machines.
// 3. Everyone: make sure better-sqlite3's native addon loads on the Node that runs this
//    (scripts/ensure-native.mjs).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 14)) {
  console.error(`ccm-sync needs Node >= 22.14 (found ${process.version}). Install Node 22.14 or later (https://nodejs.org), then install ccm-sync again.`);
  process.exit(1);
}

const require = createRequire(import.meta.url);
const here = new URL('..', import.meta.url);
let patchPackage;
try {
  patchPackage = require.resolve('patch-package/dist/index.js');
} catch {
  patchPackage = undefined;
}
if (patchPackage && existsSync(new URL('patches', here))) {
  execFileSync(process.execPath, [patchPackage], { stdio: 'inherit', cwd: here });
}
await import('./ensure-native.mjs');
