/** `ccm-sync doctor [--json]`: every check an operator would otherwise make by hand (monitor/doctor.ts). */
import path from 'node:path';
import { daemonChecks, hookChecks, machineChecks, syncChecks, type Check } from '../../monitor/doctor.ts';
import { remoteChecks } from '../../monitor/doctor-remote.ts';
import { installationSeen } from '../../remote/identity.ts';
import { findDaemon } from '../../daemon/client.ts';
import { emit, type GlobalOptions } from '../output.ts';
import { lookLocal } from '../with-local.ts';
import { loadSettings } from '../../config/load.ts';
import { statusSnapshot } from '../../monitor/status.ts';

const MARK = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

export async function doctorCommand(opts: GlobalOptions & { dir?: string; remote?: boolean }): Promise<void> {
  const settings = loadSettings({ configPath: opts.config });
  const checks: Check[] = machineChecks(settings);
  await lookLocal(opts, async (s, local) => {
    const now = local.clock.now();
    checks.push(...await daemonChecks(s, local, () => findDaemon(s, local.state)!.call('GET', '/api/sync/status', undefined, 5_000)));
    if (opts.remote !== false) checks.push(...await remoteChecks(s, now, Date.now, installationSeen(local.state)));
    const status = statusSnapshot(local, s);
    checks.push(...hookChecks(s, status, path.resolve(opts.dir ?? process.cwd()), now), ...syncChecks(status, now));
  });
  const failed = checks.filter((c) => c.level === 'fail').length;
  const warned = checks.filter((c) => c.level === 'warn').length;
  emit(opts, { ok: failed === 0, failed, warned, checks }, () => [
    ...checks.map((c) => `${MARK[c.level]}  ${`${c.area}: ${c.name}`.padEnd(30)} ${c.detail}${c.fix ? `\n${' '.repeat(37)}→ ${c.fix}` : ''}`),
    '',
    failed ? `${failed} failed, ${warned} to look at` : warned ? `nothing failed; ${warned} to look at` : 'everything checks out',
  ].join('\n'));
  if (failed) process.exitCode = 1;
}
