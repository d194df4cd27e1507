/**
 * The live dashboard (App) on a real home with no daemon: an action's answer takes the key line's
 * place, and gives it back after 15 seconds (it used to stay until the next key).
 */
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { App } from '../../src/tui/App.tsx';
import { KEY_LINE } from '../../src/tui/Dashboard.tsx';
import { openLocal } from '../../src/local.ts';
import { makeEnv } from '../helpers/env.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('the dashboard app', () => {
  it('shows the answer to a key, then the key line again', async () => {
    const env = makeEnv();
    const local = openLocal(env.settings);
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval'] });
    const app = render(<App settings={env.settings} local={local} refreshMs={1000} />);
    try {
      app.stdin.write('s');
      await vi.advanceTimersByTimeAsync(50);
      expect(app.lastFrame()).toContain('no daemon is running');
      await vi.advanceTimersByTimeAsync(14_000);
      expect(app.lastFrame()).toContain('no daemon is running');
      await vi.advanceTimersByTimeAsync(1_500);
      expect(app.lastFrame()).not.toContain('no daemon is running');
      expect(app.lastFrame()).toContain(KEY_LINE.slice(0, 20));
    } finally {
      app.unmount();
      local.close();
      env.cleanup();
    }
  });
});
