// Part of `npm run build`: copies liteque's build, with the fixes in patches/ applied (npm ci runs
// patch-package in this repository), to vendor/liteque/. ccm-sync imports it from there
// (`#liteque` in package.json "imports"), and the published package carries vendor/, so people
// who install ccm-sync get the fixed liteque without patching anything on their machines.
// Fails the build when node_modules/liteque is not the patched 0.8.0.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const from = new URL('../node_modules/liteque/', import.meta.url);
const to = new URL('../vendor/liteque/', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', from), 'utf8'));
if (pkg.version !== '0.8.0') throw new Error(`vendor-liteque: node_modules/liteque is ${pkg.version}; patches/ are for 0.8.0`);
const code = readFileSync(new URL('dist/index.js', from), 'utf8');
const fixes = {
  'synchronous dequeue transaction': 'behavior: "immediate"',
  'idempotency key released when a job runs': 'idempotencyKey: null',
  'timeout timer cleared': 'clearTimeout(timeoutHandle)',
  'backoff between retries': 'retryDelayMs',
  'millisecond createdAt': 'timestamp_ms',
};
const missing = Object.entries(fixes).filter(([, marker]) => !code.includes(marker)).map(([what]) => what);
if (missing.length) throw new Error(`vendor-liteque: node_modules/liteque lacks the fixes in patches/ (${missing.join(', ')}); run \`npm ci\` (or npx patch-package)`);
rmSync(to, { recursive: true, force: true });
mkdirSync(to, { recursive: true });
cpSync(new URL('dist/', from), to, { recursive: true, filter: (src) => !src.endsWith('.cjs') && !src.endsWith('.d.cts') });
for (const f of ['LICENCE', 'README.md']) if (existsSync(new URL(f, from))) cpSync(new URL(f, from), new URL(f, to));
writeFileSync(new URL('package.json', to), `${JSON.stringify({ name: 'liteque', version: pkg.version, type: 'module', license: pkg.license, note: 'liteque 0.8.0 with the fixes in ccm-sync patches/liteque+0.8.0.patch' }, null, 2)}\n`);
