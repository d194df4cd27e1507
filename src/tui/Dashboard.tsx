import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import { AlertsPanel, ConflictsPanel, FailedPanel, ReductionPanel } from './panels/ReviewPanels.tsx';
import { FailuresView } from './panels/FailuresView.tsx';
import { FleetView } from './panels/FleetView.tsx';
import { HelpPanel } from './panels/HelpPanel.tsx';
import { QueuePanel } from './panels/QueuePanel.tsx';
import { StatePanel } from './panels/StatePanel.tsx';
import { LastSyncPanel, NextSyncPanel, RecentPanel, ThroughputPanel } from './panels/SyncPanels.tsx';
import { ago } from './format.ts';
import { hookLine } from '../monitor/hook-health.ts';
import type { DashboardModel } from './model.ts';
import type { FleetState } from './fleet-source.ts';

export interface DashboardProps {
  readonly model: DashboardModel;
  readonly width: number;
  readonly height: number;
  readonly message?: string;
  readonly showHelp?: boolean;
  /** The failures view (key f) instead of the dashboard. */
  readonly showFailures?: boolean;
  /** The fleet as last read (postgres, or supabase with the service-role key). */
  readonly fleet?: FleetState;
  /** The fleet view (key m) instead of the dashboard. */
  readonly showFleet?: boolean;
}

export const KEY_LINE = 's sync  d drain  p pause  o offline  r retry  f failed  m fleet  ? help  q quit';

/**
 * The whole screen. At 80×24: header, three panels, three panels, the throughput line, recent
 * syncs, failed and conflicts, the key line. Wider terminals move "next sync" into the top row;
 * taller ones show more recent syncs and failures.
 */
export function Dashboard({ model, width, height, message, showHelp, showFailures, fleet, showFleet }: DashboardProps) {
  const s = model.status;
  const wide = width >= 120;
  const col = Math.floor(width / (wide ? 4 : 3));
  const recentRows = Math.max(2, Math.min(8, height - 21));
  const itemRows = Math.max(1, Math.min(3, height - 21 - 8 + 1));
  const row = (h: number, children: ReactNode) => (
    <Box height={h} overflow="hidden">{children}</Box>
  );
  const cell = (w: number, children: ReactNode) => <Box width={w}>{children}</Box>;
  const hooks = hookLine(s.hooks, (iso) => ago(iso, model.now));
  const next = cell(col, <NextSyncPanel next={s.next_sync} interval={s.interval} paused={s.paused} now={model.now} />);
  if (showHelp) {
    return (
      <Box flexDirection="column" width={width}>
        <HelpPanel />
        <Text dimColor>press ? to return</Text>
      </Box>
    );
  }
  if (showFleet) {
    return (
      <Box flexDirection="column" width={width}>
        <FleetView fleet={fleet} now={model.now} width={width} height={height - 1} />
        <Text wrap="truncate-end">{message ? <Text color="yellow">{message}</Text> : <Text dimColor>{KEY_LINE}</Text>}</Text>
      </Box>
    );
  }
  if (showFailures) {
    return (
      <Box flexDirection="column" width={width}>
        <FailuresView failed={model.failed} total={s.failed} now={model.now} height={height - 1} width={width} />
        <Text wrap="truncate-end">{message ? <Text color="yellow">{message}</Text> : <Text dimColor>{KEY_LINE}</Text>}</Text>
      </Box>
    );
  }
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate-end">
        <Text bold>ccm-sync</Text>
        <Text dimColor> · {s.system.id} · {s.mode} · remote {s.remote}</Text>
        {fleet && !('unavailable' in fleet) ? <Text color={fleet.totals.stale || fleet.totals.failing ? 'yellow' : undefined} dimColor={!fleet.totals.stale && !fleet.totals.failing}> · fleet {fleet.totals.systems}{fleet.totals.stale ? `, ${fleet.totals.stale} stale` : ''}{fleet.totals.failing ? `, ${fleet.totals.failing} failing` : ''}</Text> : null}
        {hooks ? <Text color={s.hooks.failures || s.hooks.rejected ? 'yellow' : undefined} dimColor={!s.hooks.failures && !s.hooks.rejected}> · hooks: {hooks}</Text> : null}
      </Text>
      {row(6, <>
        {cell(col, <QueuePanel pending={s.pending} now={model.now} tables={wide ? 4 : 2} />)}
        {cell(col, <StatePanel status={s} now={model.now} width={col} />)}
        {cell(wide ? col : width - 2 * col, <LastSyncPanel last={s.last_sync} now={model.now} />)}
        {wide ? next : null}
      </>)}
      {row(5, <>
        {wide ? null : next}
        {cell(col, <ReductionPanel reduction={s.reduction_24h} />)}
        {cell(wide ? width - col : width - 2 * col, <AlertsPanel alerts={s.alerts.slice(0, 2)} width={wide ? width - col : width - 2 * col} />)}
      </>)}
      {row(1, <ThroughputPanel perMinute={model.perMinute} width={width} />)}
      {row(recentRows + 3, <RecentPanel recent={model.recent} now={model.now} rows={recentRows} />)}
      {row(itemRows + 3, <>
        {cell(Math.floor(width / 2), <FailedPanel failed={model.failed} total={s.failed} width={Math.floor(width / 2)} rows={itemRows} />)}
        {cell(width - Math.floor(width / 2), <ConflictsPanel conflicts={model.conflicts} total={s.conflicts} width={width - Math.floor(width / 2)} rows={itemRows} />)}
      </>)}
      <Text wrap="truncate-end">{message ? <Text color="yellow">{message}</Text> : <Text dimColor>{KEY_LINE}</Text>}</Text>
    </Box>
  );
}
