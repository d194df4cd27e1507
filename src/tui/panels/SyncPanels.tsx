import { Text } from 'ink';
import { Panel } from './Panel.tsx';
import { ago, duration, sparkline } from '../format.ts';
import type { StatusSnapshot } from '../../monitor/status.ts';
import type { MetricRow } from '../../store/metrics.ts';

export interface LastSyncPanelProps {
  readonly last: StatusSnapshot['last_sync'];
  readonly now: number;
}

/** When, trigger, operations, duration, result of the last sync. */
export function LastSyncPanel({ last, now }: LastSyncPanelProps) {
  return (
    <Panel title="Last sync">
      {last ? (
        <>
          <Text wrap="truncate-end">{ago(last.at, now)} · {last.trigger}</Text>
          <Text wrap="truncate-end">{last.operations} ops in {last.duration_ms} ms</Text>
          <Text wrap="truncate-end" color={!last.success ? 'red' : last.failed ? 'yellow' : 'green'}>{!last.success ? 'failed' : last.failed ? `${last.failed} refused` : 'ok'}</Text>
        </>
      ) : (
        <Text wrap="truncate-end" dimColor>never</Text>
      )}
    </Panel>
  );
}

export interface NextSyncPanelProps {
  readonly next: string | null;
  readonly interval: StatusSnapshot['interval'];
  readonly paused: boolean;
  readonly now: number;
}

/** Countdown to the next periodic sync and the effective interval. */
export function NextSyncPanel({ next, interval, paused, now }: NextSyncPanelProps) {
  const left = next ? Math.max(0, (Date.parse(next) - now) / 1000) : null;
  return (
    <Panel title={`Next sync: ${paused ? 'paused' : left === null ? 'not scheduled' : `in ${duration(left)}`}`}>
      <Text wrap="truncate-end">{interval ? `every ${duration(interval.effective_seconds)} (base ${duration(interval.base_seconds)})` : ' '}</Text>
      <Text wrap="truncate-end" dimColor>{interval ? `${interval.rate_per_minute.toFixed(1)} ops/min recorded` : ' '}</Text>
    </Panel>
  );
}

export interface ThroughputPanelProps {
  readonly perMinute: readonly number[];
  readonly width: number;
}

/** Operations synced per minute over the last hour: one line, a sparkline and the total. */
export function ThroughputPanel({ perMinute, width }: ThroughputPanelProps) {
  const total = perMinute.reduce((a, b) => a + b, 0);
  const label = ` ${total} ops synced in the last hour`;
  const shown = perMinute.slice(-Math.max(10, Math.min(perMinute.length, width - label.length - 13)));
  return (
    <Text wrap="truncate-end">
      <Text wrap="truncate-end" bold color="cyan"> Throughput </Text>
      <Text wrap="truncate-end" color="green">{sparkline(shown)}</Text>
      <Text wrap="truncate-end">{label}</Text>
    </Text>
  );
}

export interface RecentPanelProps {
  readonly recent: readonly MetricRow[];
  readonly now: number;
  readonly rows: number;
}

/** The most recent syncs. */
export function RecentPanel({ recent, now, rows }: RecentPanelProps) {
  return (
    <Panel title="Recent syncs">
      {recent.length === 0 ? <Text dimColor>none yet</Text> : null}
      {recent.slice(0, rows).map((m) => (
        <Text wrap="truncate-end" key={m.id} color={m.success ? undefined : 'red'}>
          {ago(m.timestamp, now).padEnd(16)} {m.trigger_type.padEnd(18)} {String(m.operations_synced).padStart(6)} ops {String(m.duration_ms).padStart(6)} ms {m.success ? '' : 'FAILED'}
        </Text>
      ))}
    </Panel>
  );
}
