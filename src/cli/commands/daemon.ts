/** `ccm-sync start` (the daemon) and `ccm-sync tui` (the dashboard). */
import { loadSettings } from '../../config/load.ts';
import { ensureHome } from '../../config/home.ts';
import { openLocal } from '../../local.ts';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive, statusSnapshot } from '../../monitor/status.ts';
import { ConfigError, DaemonStillRunningError } from '../../errors.ts';
import { lookLocal } from '../with-local.ts';
import { emit, type GlobalOptions } from '../output.ts';
import { statusLines } from '../status-lines.ts';
import type { SyncProgress } from '../../workers/sync-run.ts';

/**
 * V8 flags for the long-running daemon. The job runner's dependencies (drizzle-orm, under liteque)
 * grow a fresh heap by ~90 MiB while they load; --optimize-for-size keeps that to ~20 MiB, and a
 * small young generation keeps the resident size flat during long drains. V8 only honours these
 * at start, so `ccm-sync start` replaces itself (same pid) with a process that has them.
 */
const DAEMON_V8_FLAGS = ['--optimize-for-size', '--max-semi-space-size=1'];

export async function startCommand(opts: GlobalOptions & { secretsFile?: string; envFile?: string }): Promise<void> {
  // The service's secrets (service/unit.ts): loaded before the settings read them; a missing file
  // is no secrets, which the check below names if the remote needs them.
  const secretsFile = opts.secretsFile ?? opts.envFile;
  if (secretsFile && existsSync(secretsFile)) {
    process.loadEnvFile(secretsFile);
    for (const n of unreadLines(readFileSync(secretsFile, 'utf8'))) process.stderr.write(`ccm-sync: warning: line ${n} of ${secretsFile} is not KEY=value, and is ignored\n`);
  }
  if (!process.execArgv.includes(DAEMON_V8_FLAGS[0]!) && typeof process.execve === 'function') {
    try {
      process.execve(process.execPath, [process.execPath, ...process.execArgv, ...DAEMON_V8_FLAGS, ...process.argv.slice(1)], process.env);
    } catch {
      // Cannot re-exec here (a sandbox, a seccomp filter): run on with V8's defaults, just larger.
    }
  }
  const settings = loadSettings({ configPath: opts.config });
  // A daemon that could never reach its remote would look healthy while nothing syncs.
  const { checkRemoteSecrets } = await import('../../remote/index.ts');
  try {
    if (settings.sync.enabled) checkRemoteSecrets(settings); // a daemon kept for hook intake and the API needs none
  } catch (err) {
    if (secretsFile && !existsSync(secretsFile) && err instanceof ConfigError) {
      throw new ConfigError(`${err.message}. The secrets file ${secretsFile} does not exist: \`ccm-sync service install\` writes it from the variables exported where it runs`);
    }
    throw err;
  }
  // A price table it cannot read would cost every task its usage until it is fixed: said now.
  if (settings.paths.pricingFile) (await import('../../hooks/pricing.ts')).loadPricing(settings.paths.pricingFile);
  ensureHome({ dir: settings.paths.home, source: settings.paths.homeSource });
  const { startDaemon } = await import('../../daemon/daemon.ts');
  const daemon = await startDaemon(settings, { onProgress: process.stderr.isTTY ? await drainBar() : undefined });
  emit(opts, { started: true, pid: process.pid, port: daemon.port }, () => `ccm-sync daemon running (pid ${process.pid}, API on 127.0.0.1:${daemon.port}); Ctrl-C stops it`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      daemon.log.info({ signal }, 'stopping');
      daemon.stop().then(resolve, (err: unknown) => {
        daemon.log.error({ err: String(err) }, 'stop failed');
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

/** The lines of a secrets file that Node's reader skips: neither KEY=value, a comment nor blank (never their text: they may hold a secret). */
export function unreadLines(text: string): number[] {
  const out: number[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!/^\s*(#.*)?$/.test(line) && !/^\s*(export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*=/.test(line)) out.push(i + 1);
  });
  return out;
}

/** Whether pid runs `ccm-sync start` (where /proc tells; elsewhere, trust the daemon's record). */
function isOurDaemon(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('start');
  } catch {
    return processAlive(pid);
  }
}

/** `ccm-sync stop`: SIGTERM to this home's daemon, then wait for it to finish its sync and exit. */
export const stopCommand = (opts: GlobalOptions & { timeout: number }) =>
  lookLocal(opts, async (settings, local) => {
    const d = local.state.get('daemon');
    if (!d || !processAlive(d.pid) || !isOurDaemon(d.pid)) {
      emit(opts, { stopped: false, running: false }, () => `no daemon is running for ${settings.paths.home}`);
      return;
    }
    process.kill(d.pid, 'SIGTERM');
    const deadline = Date.now() + opts.timeout * 1000;
    while (processAlive(d.pid)) {
      if (Date.now() > deadline) throw new DaemonStillRunningError(`the daemon (pid ${d.pid}) is still running after ${opts.timeout} s; it finishes its current sync first. Wait, or end it with \`kill ${d.pid}\``);
      await sleep(100);
    }
    emit(opts, { stopped: true, pid: d.pid }, () => `stopped the daemon (pid ${d.pid})`);
  });

export async function tuiCommand(opts: GlobalOptions & { once?: boolean }): Promise<void> {
  const settings = loadSettings({ configPath: opts.config });
  if (opts.once || opts.json || !process.stdout.isTTY) {
    const local = openLocal(settings, undefined, { readonly: true });
    try {
      const s = statusSnapshot(local, settings, { byTable: true });
      emit(opts, s, () => statusLines(s).join('\n'));
    } finally {
      local.close();
    }
    return;
  }
  const { runDashboard } = await import('../../tui/run.tsx');
  await runDashboard(settings);
}

/** On a terminal, long drains (a backlog after an outage, a start with work pending) get a bar. */
async function drainBar(): Promise<(p: SyncProgress) => void> {
  const { default: cliProgress } = await import('cli-progress');
  let bar: InstanceType<typeof cliProgress.SingleBar> | undefined;
  return (p) => {
    if (!bar && p.total >= 1000 && p.done < p.total) {
      bar = new cliProgress.SingleBar({ stream: process.stderr, format: `${p.trigger} drain [{bar}] {value}/{total} ops · {eta_formatted} left` }, cliProgress.Presets.shades_classic);
      bar.start(p.total, p.done);
    }
    if (!bar) return;
    bar.setTotal(p.total);
    bar.update(p.done);
    if (p.done >= p.total) {
      bar.stop();
      bar = undefined;
    }
  };
}
