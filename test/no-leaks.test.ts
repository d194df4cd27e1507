/**
 * The leak check (test/helpers/no-leaks.ts) fails a test file that leaves a timer, a worker
 * thread, a child process or a connection behind, and passes one that leaves nothing.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const VITEST = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
const CONFIG = fileURLToPath(new URL('./fixtures/leaky/vitest.config.ts', import.meta.url));

function runLeaky(leak: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [VITEST, 'run', '--config', CONFIG], { env: { ...process.env, LEAK: leak, CI: '1', NO_COLOR: '1', FORCE_COLOR: '0', CCM_TEST_SLOWDOWN: '1' }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('the leak check', () => {
  it.each([
    ['timer', '1 × Timeout'],
    ['worker', '1 × worker thread'],
    ['child', '1 × ProcessWrap'],
    ['connection', '1 × TCPServerWrap'],
  ])('fails a test file that leaves a %s running', (leak, what) => {
    const r = runLeaky(leak);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`this test file left running: ${what}`);
  });

  it('passes a test file that leaves nothing', () => {
    const r = runLeaky('nothing');
    expect(r.out).toMatch(/1 passed/);
    expect(r.code).toBe(0);
  });
});
