import { Text } from 'ink';
import { Panel } from './Panel.tsx';
import { ago, clip } from '../format.ts';
import type { FleetView as Fleet } from '../../monitor/fleet.ts';

export interface FleetViewProps {
  /** The fleet as last read, or why it cannot be shown. */
  readonly fleet: Fleet | { unavailable: string } | undefined;
  readonly now: number;
  readonly width: number;
  /** Rows of the terminal this view may use. */
  readonly height: number;
}

/** Every system feeding the remote (key m): stale and failing ones first. */
export function FleetView({ fleet, now, width, height }: FleetViewProps) {
  if (!fleet) return <Panel title="Fleet (m returns)"><Text dimColor>reading the remote…</Text></Panel>;
  if ('unavailable' in fleet) return <Panel title="Fleet (m returns)"><Text wrap="wrap">{fleet.unavailable}</Text></Panel>;
  const t = fleet.totals;
  const order = [...fleet.systems].sort((a, b) => Number(b.stale) - Number(a.stale) || Number(b.failing) - Number(a.failing) || a.system_id.localeCompare(b.system_id));
  const fit = Math.max(1, height - 5);
  const week = (id: string) => {
    const a = fleet.agents?.[id];
    return a ? ` · 7d: ${a.tasks} tasks $${a.cost_usd.toFixed(2)}${a.failure_rate === null ? '' : ` ${(a.failure_rate * 100).toFixed(0)}% failed`}` : '';
  };
  const line = (x: (typeof order)[number]) => clip(
    `${x.system_id.padEnd(18)} ${(x.type ?? '-').padEnd(21)} ${(x.version ?? '-').padEnd(8)} seen ${ago(x.last_seen_at, now).padEnd(16)} backlog ${String(x.backlog ?? '-').padEnd(6)} failed ${String(x.failed ?? '-').padEnd(4)} ${x.connection ?? '-'}${week(x.system_id)}${x.problems.length ? ` · ${x.problems.join('; ')}` : ''}`,
    width - 4,
  );
  return (
    <Panel title={`Fleet: ${t.systems} systems · ${t.stale} stale · ${t.failing} failing · backlog ${t.backlog} (m returns; ccm-sync fleet)`}>
      {order.slice(0, fit).map((x) => (
        <Text key={x.system_id} wrap="truncate-end" color={x.stale ? 'red' : x.failing ? 'yellow' : undefined}>{line(x)}</Text>
      ))}
      {order.length > fit ? <Text dimColor>… and {order.length - fit} more: ccm-sync fleet</Text> : null}
    </Panel>
  );
}
