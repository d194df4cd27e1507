/**
 * The flags of `ccm-sync enqueue`, declared once. Commander builds `--help` from them; the hot
 * path in main.ts parses them with node's built-in util.parseArgs instead, because loading
 * commander costs ~35 ms and hooks call enqueue once per event.
 */
import { util } from '../builtins.ts';
import { InputError } from '../errors.ts';
import type { GlobalOptions } from './output.ts';

export interface EnqueueFlags extends GlobalOptions {
  op?: string;
  table?: string;
  id?: string;
  data?: string;
  priority?: string;
  changedAt?: string;
  stdin?: boolean;
}

export interface FlagSpec {
  name: string;
  key: keyof EnqueueFlags;
  type: 'string' | 'boolean';
  value?: string;
  short?: string;
  choices?: string[];
  description: string;
}

export const ENQUEUE_FLAGS: readonly FlagSpec[] = [
  { name: 'op', key: 'op', type: 'string', value: 'operation', description: 'INSERT, UPDATE or DELETE' },
  { name: 'table', key: 'table', type: 'string', value: 'name', description: 'tasks, supervisory_reports, alerts, contexts, task_summaries, system_status or hook_events' },
  { name: 'id', key: 'id', type: 'string', value: 'record_id', description: 'the record id' },
  { name: 'data', key: 'data', type: 'string', value: 'json', description: 'record_data as a JSON object (partial rows are merged)' },
  { name: 'priority', key: 'priority', type: 'string', value: 'priority', choices: ['low', 'normal', 'high', 'urgent'], description: 'low, normal (default), high or urgent' },
  { name: 'changed-at', key: 'changedAt', type: 'string', value: 'iso', description: 'when the change happened (default: now); last-write-wins compares it' },
  { name: 'stdin', key: 'stdin', type: 'boolean', description: 'read NDJSON from stdin: one {"operation","table_name","record_id","record_data","priority"} per line' },
];

const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: 'config', key: 'config', type: 'string', short: 'c', description: '' },
  { name: 'json', key: 'json', type: 'boolean', description: '' },
];

/** Parses `enqueue` arguments (everything after the word enqueue) the way commander would. */
export function parseEnqueueArgs(args: string[]): EnqueueFlags {
  const specs = [...ENQUEUE_FLAGS, ...GLOBAL_FLAGS];
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = util.parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(specs.map((f) => [f.name, { type: f.type, ...(f.short ? { short: f.short } : {}) }])),
    }) as { values: Record<string, string | boolean | undefined> });
  } catch (err) {
    throw new InputError(`${(err as Error).message.split('\n')[0]} (see \`ccm-sync enqueue --help\`)`);
  }
  const flags: Record<string, unknown> = {};
  for (const f of specs) {
    const v = values[f.name];
    if (v === undefined) continue;
    if (f.choices && !f.choices.includes(String(v))) throw new InputError(`--${f.name} must be one of ${f.choices.join(', ')}, got ${JSON.stringify(v)}`);
    flags[f.key] = v;
  }
  return flags as EnqueueFlags;
}
