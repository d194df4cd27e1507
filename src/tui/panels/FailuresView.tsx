import { Box, Text } from 'ink';
import { Panel } from './Panel.tsx';
import { ago } from '../format.ts';
import type { DashboardModel } from '../model.ts';

export interface FailuresViewProps {
  readonly failed: DashboardModel['failed'];
  readonly total: number;
  readonly now: number;
  /** Rows of the terminal this view may use, and its width. */
  readonly height: number;
  readonly width: number;
}

/**
 * Dead letters with their reason (key f), in the rows the terminal has: each entry takes four (its
 * line, two of reason, a gap); a longer reason is cut, naming the command that shows it whole,
 * and entries that do not fit are counted.
 */
export function FailuresView({ failed, total, now, height, width }: FailuresViewProps) {
  const fit = Math.max(1, Math.floor((height - 4) / 4));
  const shown = failed.slice(0, fit);
  const room = Math.max(20, width - 4);
  const reason = (f: (typeof failed)[number]) => {
    const text = (f.error_message ?? '(no reason recorded)').replace(/\s+/g, ' ');
    const more = ` … (ccm-sync failed show ${f.id})`;
    return text.length <= 2 * room ? text : `${text.slice(0, 2 * room - more.length)}${more}`;
  };
  return (
    <Panel title={`Failed operations: ${total} (f returns; retry or discard with \`ccm-sync failed\`)`}>
      {shown.length === 0 ? <Text color="green">none</Text> : null}
      {shown.map((f) => (
        <Box key={f.id} flexDirection="column" marginBottom={1}>
          <Text bold color="red" wrap="truncate-end">#{f.id} {f.operation} {f.table_name}/{f.record_id}{f.error_code ? ` · ${f.error_code}` : ''} · failed {ago(f.failed_at, now)}</Text>
          <Box height={2}><Text wrap="wrap">{reason(f)}</Text></Box>
        </Box>
      ))}
      {total > shown.length ? <Text dimColor>… and {total - shown.length} more: ccm-sync failed list</Text> : null}
    </Panel>
  );
}
