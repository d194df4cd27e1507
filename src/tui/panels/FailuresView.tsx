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

/** How many lines a text takes wrapped at word boundaries to `width` columns. */
function wrappedLines(text: string, width: number): number {
  let lines = 1;
  let col = 0;
  for (const word of text.split(' ')) {
    const w = word.length;
    if (col === 0) col = w;
    else if (col + 1 + w <= width) col += 1 + w;
    else {
      lines += 1;
      col = w;
    }
    while (col > width) {
      lines += 1;
      col -= width;
    }
  }
  return lines;
}

/**
 * Dead letters with their reason (key f), in the rows the terminal has: at least four an entry (its
 * line, two of reason, a gap), and the rest shared among those shown; a reason longer than its
 * share is cut, naming the command that shows it whole, and entries that do not fit are counted.
 */
export function FailuresView({ failed, total, now, height, width }: FailuresViewProps) {
  const fit = Math.max(1, Math.floor((height - 4) / 4));
  const shown = failed.slice(0, fit);
  const room = Math.max(20, width - 4);
  // The rows left, shared among the entries shown: a few failures get their whole reason.
  const lines = Math.max(2, Math.floor((height - 4) / Math.max(1, shown.length)) - 2);
  const reason = (f: (typeof failed)[number]) => {
    const text = (f.error_message ?? '(no reason recorded)').replace(/\s+/g, ' ');
    if (wrappedLines(text, room) <= lines) return text;
    const more = ` … (ccm-sync failed show ${f.id})`;
    let cut = lines * room - more.length;
    while (cut > 0 && wrappedLines(`${text.slice(0, cut)}${more}`, room) > lines) cut -= 4;
    return `${text.slice(0, cut)}${more}`;
  };
  return (
    <Panel title={`Failed operations: ${total} (f returns; retry or discard with \`ccm-sync failed\`)`}>
      {shown.length === 0 ? <Text color="green">none</Text> : null}
      {shown.map((f) => (
        <Box key={f.id} flexDirection="column" marginBottom={1}>
          <Text bold color="red" wrap="truncate-end">#{f.id} {f.operation} {f.table_name}/{f.record_id}{f.error_code ? ` · ${f.error_code}` : ''} · failed {ago(f.failed_at, now)}</Text>
          <Box height={Math.min(lines, wrappedLines(reason(f), room))}><Text wrap="wrap">{reason(f)}</Text></Box>
        </Box>
      ))}
      {total > shown.length ? <Text dimColor>… and {total - shown.length} more: ccm-sync failed list</Text> : null}
    </Panel>
  );
}
