/**
 * `ccm-sync report`: the fleet's task summaries summed by system, repository, branch, model or day.
 * Costs are summed in billionths of a dollar as integers, so the figures are the exact sums of the
 * uploaded summaries, not float approximations of them.
 */
import type { SummaryRow } from '../remote/report.ts';

export const REPORT_BY = ['system', 'repo', 'branch', 'model', 'day'] as const;
export type ReportBy = (typeof REPORT_BY)[number];

export interface ReportLine {
  key: string;
  tasks: number;
  /** Tasks that ended (completed, failed or interrupted), and of them the failed ones. */
  ended: number;
  failed: number;
  /** failed / ended, or null when none ended. */
  failure_rate: number | null;
  api_requests: number;
  input_tokens: number;
  output_tokens: number;
  cache_creation_tokens: number;
  cache_read_tokens: number;
  cost_usd: number;
  permission_requests: number;
  permission_wait_seconds: number;
}

type Acc = Omit<ReportLine, 'failure_rate' | 'cost_usd' | 'permission_wait_seconds'> & { nano: number; waitMs: number };

const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : 0) || 0;
const nanos = (v: unknown) => Math.round(num(v) * 1e9);

function keysOf(r: SummaryRow, by: ReportBy): string[] {
  switch (by) {
    case 'system':
      return [r.system_id];
    case 'repo':
      return [r.repo ?? '(no repository)'];
    case 'branch':
      return [`${r.repo ?? '(no repository)'} ${r.git_branch ?? '(no branch)'}`];
    case 'day':
      return [r.first_event_at ? r.first_event_at.slice(0, 10) : '(no events)'];
    case 'model':
      return Object.keys(r.models ?? {}).length ? Object.keys(r.models!) : ['(no API requests)'];
  }
}

function empty(key: string): Acc {
  return { key, tasks: 0, ended: 0, failed: 0, api_requests: 0, input_tokens: 0, output_tokens: 0, cache_creation_tokens: 0, cache_read_tokens: 0, nano: 0, permission_requests: 0, waitMs: 0 };
}

/**
 * Whether a summary is a task a person asked for. What a session does before its first prompt
 * (SessionStart, and the SessionEnd of a session never prompted) is summarised as a task of its
 * own with no prompt: its usage counts, but it is not a task (it doubled the count of a session
 * with one prompt). Summaries from before prompt_count was filled count as tasks.
 */
const isTask = (r: SummaryRow) => r.prompt_count === null || r.prompt_count === undefined || num(r.prompt_count) > 0;

/** A summary with no prompt and nothing to sum: left out of the report altogether. */
const isEmpty = (r: SummaryRow) => !isTask(r) && num(r.api_requests) === 0 && num(r.permission_requests) === 0;

/** Adds one task to a line: the whole task, or (by model) that model's part of its usage. */
function add(a: Acc, r: SummaryRow, model: string | undefined): void {
  const part = model ? r.models?.[model] : undefined;
  if (isTask(r)) {
    a.tasks += 1;
    if (r.outcome) a.ended += 1;
    if (r.outcome === 'failed') a.failed += 1;
  }
  a.api_requests += num(part ? part.requests : r.api_requests);
  a.input_tokens += num(part ? part.input_tokens : r.input_tokens);
  a.output_tokens += num(part ? part.output_tokens : r.output_tokens);
  a.cache_creation_tokens += num(part ? part.cache_creation_tokens : r.cache_creation_tokens);
  a.cache_read_tokens += num(part ? part.cache_read_tokens : r.cache_read_tokens);
  a.nano += nanos(part ? part.cost_usd : r.cost_usd);
  // Waits are a task's, not a model's: by model they count once per task that used the model.
  a.permission_requests += num(r.permission_requests);
  a.waitMs += Math.round(num(r.permission_wait_seconds) * 1000);
}

/** The lines of a report, most expensive first, with the total last. */
export function buildReport(rows: readonly SummaryRow[], by: ReportBy): { lines: ReportLine[]; total: ReportLine } {
  const acc = new Map<string, Acc>();
  const total = empty('total');
  for (const r of rows) {
    if (isEmpty(r)) continue;
    for (const key of keysOf(r, by)) {
      let a = acc.get(key);
      if (!a) acc.set(key, (a = empty(key)));
      add(a, r, by === 'model' && r.models?.[key] ? key : undefined);
    }
    add(total, r, undefined);
  }
  const done = (a: Acc): ReportLine => {
    const { nano, waitMs, ...rest } = a;
    return { ...rest, failure_rate: a.ended ? a.failed / a.ended : null, cost_usd: nano / 1e9, permission_wait_seconds: waitMs / 1000 };
  };
  const lines = [...acc.values()].map(done).sort((x, y) => y.cost_usd - x.cost_usd || x.key.localeCompare(y.key));
  return { lines, total: done(total) };
}
