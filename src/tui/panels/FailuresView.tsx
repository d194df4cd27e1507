import { Box, Text } from 'ink';
import { Panel } from './Panel.tsx';
import { ago } from '../format.ts';
import type { DashboardModel } from '../model.ts';

export interface FailuresViewProps {
  readonly failed: DashboardModel['failed'];
  readonly total: number;
  readonly now: number;
  /** Rows of the terminal this view may use. */
  readonly height: number;
}

/**
 * Dead letters with their whole reason, wrapped (key f). The reason is what a person needs to fix
 * the cause, so it is never cut here; entries that do not fit are counted instead.
 */
export function FailuresView({ failed, total, now, height }: FailuresViewProps) {
  const fit = Math.max(1, Math.floor((height - 4) / 4));
  const shown = failed.slice(0, fit);
  return (
    <Panel title={`Failed operations: ${total} (f returns; retry or discard with \`ccm-sync failed\`)`}>
      {shown.length === 0 ? <Text color="green">none</Text> : null}
      {shown.map((f) => (
        <Box key={f.id} flexDirection="column" marginBottom={1}>
          <Text bold color="red">#{f.id} {f.operation} {f.table_name}/{f.record_id}{f.error_code ? ` · ${f.error_code}` : ''} · failed {ago(f.failed_at, now)}</Text>
          <Text wrap="wrap">{f.error_message ?? '(no reason recorded)'}</Text>
        </Box>
      ))}
      {total > shown.length ? <Text dimColor>… and {total - shown.length} more: ccm-sync failed list</Text> : null}
    </Panel>
  );
}
