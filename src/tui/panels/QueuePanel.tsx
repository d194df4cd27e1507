import { Text } from 'ink';
import { Panel } from './Panel.tsx';
import { duration } from '../format.ts';
import type { StatusSnapshot } from '../../monitor/status.ts';

export interface QueuePanelProps {
  readonly pending: StatusSnapshot['pending'];
  readonly now: number;
  readonly tables?: number;
}

/** Queue depth by priority and by table, with the oldest pending age. */
export function QueuePanel({ pending, now, tables = 3 }: QueuePanelProps) {
  const p = pending.by_priority;
  const byTable = Object.entries(pending.by_table ?? {}).slice(0, tables);
  const oldest = pending.oldest_created_at ? `, oldest ${duration(Math.max(0, (now - Date.parse(pending.oldest_created_at)) / 1000))}` : '';
  return (
    <Panel title={`Queue: ${pending.total}${oldest}`}>
      <Text wrap="truncate-end">
        <Text color="red">urgent {p.urgent ?? 0}</Text> · <Text color="yellow">high {p.high ?? 0}</Text>
      </Text>
      <Text wrap="truncate-end">normal {p.normal ?? 0} · <Text dimColor>low {p.low ?? 0}</Text></Text>
      <Text wrap="truncate-end" dimColor>{byTable.length ? byTable.map(([t, n]) => `${t} ${n}`).join(' · ') : 'no tables pending'}</Text>
    </Panel>
  );
}
