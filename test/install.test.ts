/**
 * Installing compiles nothing: `npm ci` takes better-sqlite3's shipped binary only while the
 * lockfile entry says `"gypfile": false` (scripts/lockfile-gypfile.mjs says why), and `npm install`
 * drops it. `.ci/run` proves the install itself with no build tools (.ci/no-toolchain).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const script = path.resolve('scripts/lockfile-gypfile.mjs');
const dir = mkdtempSync(path.join(tmpdir(), 'ccm-install-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the lockfile', () => {
  it('tells npm not to run node-gyp for better-sqlite3', () => {
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { gypfile?: boolean }> };
    expect(lock.packages['node_modules/better-sqlite3']?.gypfile).toBe(false);
    expect(() => execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' })).not.toThrow();
  });

  it('is caught, with the fix named, when npm install has dropped it', () => {
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { gypfile?: boolean }> };
    delete lock.packages['node_modules/better-sqlite3']!.gypfile;
    const file = path.join(dir, 'package-lock.json');
    writeFileSync(file, JSON.stringify(lock));
    const check = spawnSync(process.execPath, [script, '--check', '--lockfile', file], { encoding: 'utf8' });
    expect(check.status).toBe(1);
    expect(check.stderr).toContain('node_modules/better-sqlite3 lacks "gypfile": false (run: node scripts/lockfile-gypfile.mjs)');
    execFileSync(process.execPath, [script, '--lockfile', file], { stdio: 'pipe' });
    expect(JSON.parse(readFileSync(file, 'utf8')).packages['node_modules/better-sqlite3'].gypfile).toBe(false);
  });
});
