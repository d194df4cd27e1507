/** `ccm-sync report --by system|repo|branch|model|day [--since 7d] [--json]`: what the fleet's coding-agent tasks cost. */
import { loadSettings } from '../../config/load.ts';
import { InputError } from '../../errors.ts';
import { buildReport, REPORT_BY, type ReportBy, type ReportLine } from '../../monitor/report.ts';
import { readTaskSummaries } from '../../remote/report.ts';
import { emit, table, type GlobalOptions } from '../output.ts';

/** --since: "7d", "12h", "30m", or a date or time ("2026-11-01"). */
export function sinceOf(text: string, nowMs: number): string {
  const rel = /^(\d+(?:\.\d+)?)\s*([dhm])$/.exec(text.trim());
  if (rel) return new Date(nowMs - Number(rel[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[rel[2] as 'd' | 'h' | 'm']).toISOString();
  const at = Date.parse(text);
  if (!Number.isNaN(at) && /^\d{4}-\d{2}-\d{2}/.test(text)) return new Date(at).toISOString();
  throw new InputError(`--since ${JSON.stringify(text)} is neither a span (7d, 12h, 30m) nor a date (2026-11-01)`);
}

const tokens = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(n));
const dollars = (n: number) => `$${n.toFixed(n < 1 ? 4 : 2)}`;
const rate = (l: ReportLine) => (l.failure_rate === null ? '-' : `${(l.failure_rate * 100).toFixed(1)}%`);

export async function reportCommand(opts: GlobalOptions & { by?: string; since?: string }): Promise<void> {
  const by = (opts.by ?? 'system') as ReportBy;
  if (!REPORT_BY.includes(by)) throw new InputError(`--by ${JSON.stringify(opts.by)}: choose one of ${REPORT_BY.join(', ')}`);
  const since = sinceOf(opts.since ?? '7d', Date.now());
  const settings = loadSettings({ configPath: opts.config });
  const report = buildReport(await readTaskSummaries(settings, since), by);
  emit(opts, { by, since, ...report }, () => {
    if (report.total.tasks === 0) return `no coding-agent task summaries on the remote since ${since}`;
    const row = (l: ReportLine) => [l.key, l.tasks, rate(l), l.api_requests, tokens(l.input_tokens), tokens(l.output_tokens), tokens(l.cache_creation_tokens), tokens(l.cache_read_tokens), dollars(l.cost_usd), `${l.permission_wait_seconds.toFixed(0)} s`];
    return [
      `Coding-agent tasks since ${since}, by ${by} (cost at list prices: config/pricing.yaml)`,
      table([by[0]!.toUpperCase() + by.slice(1), 'Tasks', 'Failed', 'Requests', 'Input', 'Output', 'Cache write', 'Cache read', 'Cost', 'Permission wait'], [...report.lines.map(row), row(report.total)]),
    ].join('\n');
  });
}
