/**
 * A temp directory with a ccm-sync config, and the resolved settings for it. Every test gets its
 * own directory, database files and system id, and removes them afterwards.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { loadSettings, type Settings } from '../../src/config/load.ts';

export interface TestEnv {
  dir: string;
  configPath: string;
  systemId: string;
  settings: Settings;
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

/** `opts.under`: the folder to make it in (default: the temp dir). */
export function makeEnv(config: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}, opts: { under?: string } = {}): TestEnv {
  const dir = mkdtempSync(path.join(opts.under ?? tmpdir(), 'ccm-test-'));
  mkdirSync(path.join(dir, '.ccm-global'), { recursive: true });
  const systemId = `sys-${randomBytes(4).toString('hex')}`;
  const full = { system: { id: systemId }, log_level: 'silent', ...config } as Record<string, unknown>;
  if (!('api' in full)) full.api = { port: 0 };
  const configPath = path.join(dir, '.ccm-global', 'config.yaml');
  writeFileSync(configPath, stringify(full));
  const childEnv: NodeJS.ProcessEnv = { ...env, CCM_SYNC_CONFIG: configPath };
  return {
    dir,
    configPath,
    systemId,
    env: childEnv,
    settings: loadSettings({ configPath, env: childEnv }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
