/**
 * `ccm-sync enqueue`: record operations into the outbox. Hooks call it once per event, so it
 * loads only the config and SQLite: no remote client, no UI.
 */
import { InputError } from '../../errors.ts';
import { loadSettings } from '../../config/load.ts';
import { ensureHome } from '../../config/home.ts';
import { openLocal } from '../../local.ts';
import { emit } from '../output.ts';
import type { EnqueueFlags } from '../enqueue-flags.ts';


async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses NDJSON; every line must be valid, or nothing is recorded. */
export function parseNdjson(text: string): { ops: unknown[]; lines: number[] } {
  const ops: unknown[] = [];
  const lines: number[] = [];
  const bad: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      ops.push(JSON.parse(line));
      lines.push(i + 1);
    } catch (err) {
      bad.push(`line ${i + 1}: invalid JSON (${(err as Error).message})`);
    }
  });
  // Every bad line at once (the first ten, and how many more), so one fix-and-retry is enough.
  if (bad.length) throw new InputError(`${bad.length} line${bad.length === 1 ? '' : 's'} of the input ${bad.length === 1 ? 'is' : 'are'} not JSON; nothing was recorded:\n  ${bad.slice(0, 10).join('\n  ')}${bad.length > 10 ? `\n  … and ${bad.length - 10} more` : ''}`);
  if (ops.length === 0) throw new InputError('no operations on stdin (expected one JSON object per line)');
  return { ops, lines };
}

export async function enqueueCommand(flags: EnqueueFlags): Promise<void> {
  let ops: unknown[];
  let where: (i: number) => string;
  if (flags.stdin) {
    if (flags.op || flags.table || flags.id || flags.data) throw new InputError('--stdin reads operations from standard input; do not combine it with --op/--table/--id/--data');
    const parsed = parseNdjson(await readStdin());
    ops = parsed.ops;
    where = (i) => `line ${parsed.lines[i]}`;
  } else {
    const missing = [['--op', flags.op], ['--table', flags.table], ['--id', flags.id]].filter(([, v]) => !v).map(([k]) => k);
    if (missing.length) throw new InputError(`missing ${missing.join(', ')} (or use --stdin for NDJSON); see \`ccm-sync enqueue --help\``);
    let data: unknown = undefined;
    if (flags.data !== undefined) {
      try {
        data = JSON.parse(flags.data);
      } catch (err) {
        throw new InputError(`--data is not valid JSON: ${(err as Error).message}`);
      }
    }
    ops = [{ operation: flags.op, table_name: flags.table, record_id: flags.id, record_data: data, priority: flags.priority ?? 'normal', ...(flags.changedAt ? { changed_at: flags.changedAt } : {}) }];
    where = () => 'operation';
  }
  const settings = loadSettings({ configPath: flags.config });
  ensureHome({ dir: settings.paths.home, source: settings.paths.homeSource });
  const local = openLocal(settings);
  try {
    const res = local.recorder.record(ops, where);
    emit(flags, { recorded: res.op_ids.length, op_ids: res.op_ids, pending: res.counts.total ?? 0 }, () =>
      res.op_ids.length === 1 ? `recorded ${res.op_ids[0]} (${res.counts.total ?? 0} pending)` : `recorded ${res.op_ids.length} operations (${res.counts.total ?? 0} pending)`);
  } finally {
    local.close();
  }
}
