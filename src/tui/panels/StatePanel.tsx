import { Text } from 'ink';
import { Panel } from './Panel.tsx';
import { ago, clip } from '../format.ts';
import type { StatusSnapshot } from '../../monitor/status.ts';

export interface StatePanelProps {
  readonly status: StatusSnapshot;
  readonly now: number;
  readonly width: number;
}

/** Online, offline, draining, syncing or backing off, with the reason and the next retry. */
export function StatePanel({ status, now, width }: StatePanelProps) {
  const c = status.connection;
  const a = status.activity;
  const syncing = status.daemon && a?.kind === 'syncing';
  const backing = status.daemon && a?.kind === 'backing_off';
  const refused = status.credential_refused;
  const label = refused ? 'TOKEN REFUSED' : syncing ? 'SYNCING' : backing && c.state === 'online' ? 'BACKING OFF' : c.state.toUpperCase();
  const color = c.state === 'offline' || refused ? 'red' : syncing || c.state === 'draining' ? 'yellow' : backing ? 'magenta' : 'green';
  const detail = refused
    ? clip(refused.reason, width - 4)
    : syncing
    ? `${a?.trigger ?? ''} ${a?.done !== undefined ? `${a.done}/${a.total}` : ''}`.trim()
    : c.state === 'offline' || backing
      ? clip(`${c.reason ?? a?.reason ?? ''}`, width - 4)
      : c.since ? `since ${ago(c.since, now)}` : 'no outage seen yet';
  const exp = status.token?.expires_at;
  const token = exp ? ` · token ${Date.parse(exp) > now ? 'expires' : 'expired'} ${ago(exp, now)}` : '';
  const next = refused ? `next check ${ago(refused.next_check_at, now)}` : c.state === 'offline' && c.next_probe_at ? `next probe ${ago(c.next_probe_at, now)}` : backing && a?.next_retry_at ? `retry ${ago(a.next_retry_at, now)}` : '';
  return (
    <Panel title="State">
      <Text wrap="truncate-end" bold color={color}>{label}{status.paused ? ' (paused)' : ''}{status.simulated_offline_until ? ' (simulated)' : ''}</Text>
      <Text wrap="truncate-end">{detail || ' '}</Text>
      <Text wrap="truncate-end" dimColor>{status.daemon ? `daemon pid ${status.daemon.pid}${next ? ` · ${next}` : ''}${token}` : `no daemon running${token}`}</Text>
    </Panel>
  );
}
