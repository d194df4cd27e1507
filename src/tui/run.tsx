import { render } from 'ink';
import { App } from './App.tsx';
import { openLocal } from '../local.ts';
import type { Settings } from '../config/load.ts';

/**
 * Runs the dashboard until q or Ctrl-C, on a read-only database handle. The CLI only gets here
 * with a TTY on stdout, so the dashboard is forced interactive: Ink would otherwise fall back to
 * printing one frame at exit whenever `CI` is set, which is common on build agents people SSH into.
 */
export async function runDashboard(settings: Settings): Promise<void> {
  const local = openLocal(settings, undefined, { readonly: true });
  try {
    const app = render(<App settings={settings} local={local} />, { exitOnCtrlC: true, interactive: true });
    await app.waitUntilExit();
  } finally {
    local.close();
  }
}
