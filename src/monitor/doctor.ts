/**
 * `ccm-sync doctor`: every check an operator would otherwise make by hand, each ok, warn or fail
 * with the fix in one line. This file holds the local checks (the machine, the databases, the
 * daemon and its service, the hooks, the sync); doctor-remote.ts the remote's.
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { messageOf } from '../errors.ts';
import { inspectDb } from '../store/db.ts';
import { freeBytes } from './disk.ts';
import { processAlive, type StatusSnapshot } from './status.ts';
import { commandProblem, distinctScopes, installedIn, settingsFile, claudeVersion } from '../hooks/install.ts';
import { eventsFor } from '../hooks/claude.ts';
import { loadPricing } from '../hooks/pricing.ts';
import { serviceFiles, unitState } from '../service/install.ts';
import type { Settings } from '../config/load.ts';
import type { Local } from '../local.ts';

export type Level = 'ok' | 'warn' | 'fail';
export type Area = 'machine' | 'daemon' | 'remote' | 'hooks' | 'sync';

export interface Check {
  area: Area;
  name: string;
  level: Level;
  detail: string;
  /** What to do, in one line (warn and fail). */
  fix?: string;
}

export const check = (area: Area, name: string, level: Level, detail: string, fix?: string): Check => ({ area, name, level, detail, ...(fix && level !== 'ok' ? { fix } : {}) });

const GiB = 2 ** 30;

export function machineChecks(settings: Settings): Check[] {
  const out: Check[] = [];
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  out.push(major > 22 || (major === 22 && minor >= 14)
    ? check('machine', 'node', 'ok', `Node ${process.version}`)
    : check('machine', 'node', 'fail', `Node ${process.version} is older than 22.14`, 'install Node 22.14 or later, then reinstall ccm-sync'));
  try {
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
    new Database(':memory:').close();
    out.push(check('machine', 'native module', 'ok', 'better-sqlite3 loads'));
  } catch (err) {
    out.push(check('machine', 'native module', 'fail', `better-sqlite3 does not load: ${messageOf(err).split('\n')[0]}`, 'reinstall ccm-sync (npm install -g ccm-sync) with the Node that runs it'));
  }
  out.push(...homeChecks(settings));
  for (const [name, file] of [['outbox database', settings.paths.db], ['job database', settings.paths.jobsDb]] as const) out.push(dbCheck(name, file, name === 'outbox database'));
  return out;
}

function homeChecks(settings: Settings): Check[] {
  const home = settings.paths.home;
  if (!existsSync(home)) return [check('machine', 'home', 'warn', `${home} (${settings.paths.homeSource}) does not exist yet`, 'run `ccm-sync init`, or any command that records')];
  const st = statSync(home);
  const out: Check[] = [];
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) out.push(check('machine', 'home', 'warn', `${home} belongs to uid ${st.uid}, and this is uid ${uid}`, `run ccm-sync as the home's owner, or: chown -R ${uid} ${home}`));
  else if (st.mode & 0o022) out.push(check('machine', 'home', 'fail', `others can write ${home} (mode ${(st.mode & 0o777).toString(8)}): they could change the config or the outbox`, `chmod 700 ${home}`));
  else out.push(check('machine', 'home', 'ok', `${home} (${settings.paths.homeSource}), mode ${(st.mode & 0o777).toString(8)}`));
  try {
    const free = freeBytes(home);
    const min = settings.monitoring.min_free_disk_mb * 2 ** 20;
    const text = `${(free / GiB).toFixed(1)} GiB free`;
    out.push(free < min ? check('machine', 'disk', 'fail', `${text}, under monitoring.min_free_disk_mb`, 'free space on that disk: nothing can be recorded until there is some')
      : free < 1 * GiB ? check('machine', 'disk', 'warn', text, 'free space on that disk before it fills') : check('machine', 'disk', 'ok', text));
  } catch (err) {
    out.push(check('machine', 'disk', 'warn', `free space unknown: ${messageOf(err)}`));
  }
  return out;
}

function dbCheck(name: string, file: string, versioned: boolean): Check {
  if (!existsSync(file)) return check('machine', name, 'ok', `${file} not created yet`);
  try {
    const db = inspectDb(file);
    if (db.quick_check !== 'ok') return check('machine', name, 'fail', `${file}: quick_check says ${db.quick_check}`, 'stop the daemon and restore the file from a backup, or `ccm-sync repair`');
    if (versioned && db.version > db.known) return check('machine', name, 'fail', `${file} has schema ${db.version}, newer than this ccm-sync (${db.known}): a newer ccm-sync wrote it`, 'upgrade ccm-sync on this machine; going back is refused');
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) return check('machine', name, 'warn', `${file} is readable by others (mode ${mode.toString(8)})`, `chmod 600 ${file}`);
    return check('machine', name, 'ok', versioned ? `${file}: intact, schema ${db.version}${db.version < db.known ? ` (migrates to ${db.known} when next opened)` : ''}` : `${file}: intact`);
  } catch (err) {
    return check('machine', name, 'fail', `${file} cannot be read: ${messageOf(err)}`, 'check its owner and mode');
  }
}

/** The daemon, its local API and its service. */
export async function daemonChecks(settings: Settings, local: Local, callApi: () => Promise<unknown>): Promise<Check[]> {
  const d = local.state.get('daemon');
  const out: Check[] = [];
  if (!d || !processAlive(d.pid)) {
    out.push(check('daemon', 'daemon', 'warn', 'not running: nothing syncs until a command asks', 'ccm-sync start, or ccm-sync service install'));
  } else {
    out.push(check('daemon', 'daemon', 'ok', `running, pid ${d.pid}`));
    try {
      await callApi();
      out.push(check('daemon', 'local API', 'ok', `answers on 127.0.0.1:${d.port}`));
    } catch (err) {
      out.push(check('daemon', 'local API', 'fail', `pid ${d.pid} runs but its API does not answer: ${messageOf(err)}`, 'ccm-sync stop, then start it again (or systemctl --user restart ccm-sync)'));
    }
  }
  try {
    const f = serviceFiles(settings, { scope: 'user' });
    const sys = serviceFiles(settings, { scope: 'system' });
    const unit = existsSync(f.unit.path) ? f : existsSync(sys.unit.path) ? sys : undefined;
    if (!unit) out.push(check('daemon', 'service', 'warn', 'no service starts the daemon at boot', 'ccm-sync service install'));
    else {
      const state = unitState(unit);
      out.push('unknown' in state ? check('daemon', 'service', 'ok', `${unit.unit.path} installed (${state.unknown})`)
        : state.UnitFileState === 'enabled' ? check('daemon', 'service', state.ActiveState === 'active' ? 'ok' : 'warn', `${unit.unit.path}: ${state.ActiveState}, enabled`, 'journalctl --user -u ccm-sync says why it is not running')
          : check('daemon', 'service', 'warn', `${unit.unit.path} is installed but ${state.UnitFileState}`, `systemctl ${unit.scope === 'user' ? '--user ' : ''}enable --now ${unit.unit.path.split('/').at(-1)}`));
    }
  } catch (err) {
    out.push(check('daemon', 'service', 'warn', `cannot tell: ${messageOf(err)}`));
  }
  return out;
}

/** Where the Claude Code hooks are installed, whether events arrive, and what waits in the spool. */
export function hookChecks(settings: Settings, s: StatusSnapshot, dir: string, nowMs: number): Check[] {
  const installs = distinctScopes(dir).map((scope) => ({ scope, ...installedIn(settingsFile(scope, process.env, dir)) })).filter((i) => i.kind !== 'none');
  const out: Check[] = [];
  if (installs.length === 0) out.push(check('hooks', 'installed', 'warn', 'ccm-sync is in no Claude Code settings file here', 'ccm-sync hook install (if this machine runs Claude Code)'));
  else if (installs.length > 1) out.push(check('hooks', 'installed', 'fail', `in ${installs.length} settings files (${installs.map((i) => i.file).join(', ')}): every event is recorded ${installs.length} times`, `ccm-sync hook uninstall --scope ${installs.at(-1)!.scope}`));
  else {
    const i = installs[0]!;
    const problem = i.command ? commandProblem(i.command, process.env) : undefined;
    const missing = eventsFor(claudeVersion(process.env)).map((e) => e.event).filter((e) => !i.events.includes(e) && !(i.kind === 'http' && e === 'SessionStart'));
    out.push(problem ? check('hooks', 'installed', 'fail', `${i.file}: ${problem}`, `ccm-sync hook install --scope ${i.scope}`)
      : missing.length ? check('hooks', 'installed', 'warn', `${i.file}: ${i.events.length} events; the installed Claude Code also has ${missing.join(', ')}`, `ccm-sync hook install --scope ${i.scope}`)
        : check('hooks', 'installed', 'ok', `${i.file}: ${i.kind} hook on ${i.events.length} events`));
  }
  const h = s.hooks;
  if (installs.length) {
    const age = h.last_event_at ? (nowMs - Date.parse(h.last_event_at)) / 86_400_000 : Infinity;
    out.push(age > 7 ? check('hooks', 'events', 'warn', h.last_event_at ? `the last event arrived ${age.toFixed(0)} days ago` : 'no event has arrived yet', 'run Claude Code once here; `ccm-sync hook status` shows the command it runs')
      : check('hooks', 'events', 'ok', `the last arrived at ${h.last_event_at} (${h.last_event ?? '?'})`));
  }
  if (settings.paths.pricingFile) out.push(pricesCheck(settings.paths.pricingFile));
  if (h.transcript_problem) out.push(check('hooks', 'transcripts', 'warn', h.transcript_problem, 'fix what it names (hooks.pricing_file, the file\'s permissions); the usage is read with the next event'));
  if (h.spooled || h.rejected || h.failures) {
    out.push(check('hooks', 'spool', 'warn', `${h.spooled} spooled, ${h.rejected} set aside, ${h.failures} failures in 24 h${h.last_failure ? ` (last: ${h.last_failure.problem})` : ''}`, h.rejected ? `look in ${settings.paths.home}/spool/claude/rejected/` : 'ccm-sync start (or sync now) records what is spooled'));
  } else out.push(check('hooks', 'spool', 'ok', 'nothing waits in the spool'));
  return out;
}

/** hooks.pricing_file read as a sync reads it: a table it cannot read costs every task its usage. */
function pricesCheck(file: string): Check {
  try {
    const n = loadPricing(file).size;
    return check('hooks', 'prices', 'ok', `${file} over the shipped table: ${n} models priced`);
  } catch (err) {
    return check('hooks', 'prices', 'fail', messageOf(err), 'fix the file (the shape of config/pricing.yaml), or remove hooks.pricing_file');
  }
}

/** The backlog and its age, dead letters, conflicts and the alerts firing. */
export function syncChecks(s: StatusSnapshot, nowMs: number): Check[] {
  const out: Check[] = [];
  const ageH = s.pending.oldest_created_at ? (nowMs - Date.parse(s.pending.oldest_created_at)) / 3_600_000 : 0;
  out.push(s.pending.total === 0 ? check('sync', 'backlog', 'ok', 'nothing pending')
    : ageH > 1 ? check('sync', 'backlog', 'warn', `${s.pending.total} pending, the oldest ${ageH.toFixed(1)} h old`, 'ccm-sync sync now; `ccm-sync sync status` says what holds it')
      : check('sync', 'backlog', 'ok', `${s.pending.total} pending, the oldest ${(ageH * 60).toFixed(0)} min old`));
  out.push(s.failed ? check('sync', 'dead letters', 'warn', `${s.failed} operations the remote refused`, 'ccm-sync failed list, then retry or discard') : check('sync', 'dead letters', 'ok', 'none'));
  out.push(s.conflicts ? check('sync', 'conflicts', 'warn', `${s.conflicts} wait for review`, 'ccm-sync review list') : check('sync', 'conflicts', 'ok', 'none'));
  out.push(...(s.alerts.length ? s.alerts.map((a) => check('sync', `alert ${a.rule}`, a.severity === 'error' ? 'fail' : 'warn', a.message, 'ccm-sync alerts')) : [check('sync', 'alerts', 'ok', 'none firing')]));
  return out;
}
