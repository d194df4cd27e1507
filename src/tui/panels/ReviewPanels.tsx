import { Text } from 'ink';
import { Panel } from './Panel.tsx';
import { byteChange, bytes, clip } from '../format.ts';
import type { DashboardModel } from '../model.ts';
import type { StatusSnapshot } from '../../monitor/status.ts';

export interface FailedPanelProps {
  readonly failed: DashboardModel['failed'];
  readonly total: number;
  readonly width: number;
  readonly rows?: number;
}

/** Failed operations with their error text. */
export function FailedPanel({ failed, total, width, rows = 3 }: FailedPanelProps) {
  return (
    <Panel title={`Failed: ${total}${total ? ' (f: reasons)' : ''}`}>
      {failed.length === 0 ? <Text dimColor>none</Text> : null}
      {failed.slice(0, rows).map((f) => (
        <Text wrap="truncate-end" key={f.id} color="red">{clip(`#${f.id} ${f.table_name}/${f.record_id}: ${f.error_message ?? ''}`, width - 4)}</Text>
      ))}
    </Panel>
  );
}

export interface ConflictsPanelProps {
  readonly conflicts: DashboardModel['conflicts'];
  readonly total: number;
  readonly width: number;
  readonly rows?: number;
}

/** Open conflicts waiting for manual review. */
export function ConflictsPanel({ conflicts, total, width, rows = 3 }: ConflictsPanelProps) {
  return (
    <Panel title={`Conflicts: ${total}`}>
      {conflicts.length === 0 ? <Text dimColor>none</Text> : null}
      {conflicts.slice(0, rows).map((c) => (
        <Text wrap="truncate-end" key={c.id} color="yellow">{clip(`#${c.id} ${c.table}/${c.record_id} local ${c.local} ≠ remote`, width - 4)}</Text>
      ))}
    </Panel>
  );
}

export interface AlertsPanelProps {
  readonly alerts: StatusSnapshot['alerts'];
  readonly width: number;
}

/** Firing alerts. */
export function AlertsPanel({ alerts, width }: AlertsPanelProps) {
  return (
    <Panel title={`Alerts: ${alerts.length}`}>
      {alerts.length === 0 ? <Text color="green">none firing</Text> : null}
      {alerts.map((a) => (
        <Text wrap="truncate-end" key={a.rule} color={a.severity === 'error' ? 'red' : 'yellow'}>{clip(`${a.rule}: ${a.message}`, width - 4)}</Text>
      ))}
    </Panel>
  );
}

export interface ReductionPanelProps {
  readonly reduction: StatusSnapshot['reduction_24h'];
}

/** What packaging saved in the last 24 hours. */
export function ReductionPanel({ reduction: r }: ReductionPanelProps) {
  return (
    <Panel title={`Packaging (24h): ${byteChange(r.bytes_in, r.bytes_out)}`}>
      <Text wrap="truncate-end">{r.operations_in} → {r.operations_out} ops</Text>
      <Text wrap="truncate-end">{bytes(r.bytes_in)} → {bytes(r.bytes_out)}</Text>
    </Panel>
  );
}
