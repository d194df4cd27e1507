/** Each dashboard panel rendered with known data (ink-testing-library, lastFrame()). */
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { Dashboard, KEY_LINE } from '../../src/tui/Dashboard.tsx';
import { QueuePanel } from '../../src/tui/panels/QueuePanel.tsx';
import { StatePanel } from '../../src/tui/panels/StatePanel.tsx';
import { LastSyncPanel, NextSyncPanel, RecentPanel, ThroughputPanel } from '../../src/tui/panels/SyncPanels.tsx';
import { AlertsPanel, ConflictsPanel, FailedPanel, ReductionPanel } from '../../src/tui/panels/ReviewPanels.tsx';
import { HelpPanel } from '../../src/tui/panels/HelpPanel.tsx';
import { fixtureFleet, fixtureModel, NOW } from '../../src/tui/sample.ts';

const frame = (el: React.ReactElement) => {
  const r = render(el);
  const out = r.lastFrame() ?? '';
  r.unmount();
  return out;
};

describe('dashboard panels', () => {
  const m = fixtureModel();
  it('queue: depth by priority and table, oldest age', () => {
    const f = frame(<QueuePanel pending={m.status.pending} now={NOW} />);
    expect(f).toContain('Queue: 23, oldest 5m');
    expect(f).toMatch(/urgent 1 · high 2[\s\S]*normal 15 · low 5/);
    expect(f).toContain('hook_events 12 · tasks 8');
  });
  it('state: online, offline with reason and next probe, syncing with progress', () => {
    expect(frame(<StatePanel status={m.status} now={NOW} width={40} />)).toMatch(/ONLINE[\s\S]*since 3\.0 hours ago/);
    const off = fixtureModel({ connection: { state: 'offline', since: '2026-08-01T11:59:00.000Z', reason: 'postgres remote unreachable (ECONNREFUSED)', next_probe_at: '2026-08-01T12:00:30.000Z', consecutive_failures: 3 } });
    const f = frame(<StatePanel status={off.status} now={NOW} width={60} />);
    expect(f).toContain('OFFLINE');
    expect(f).toContain('ECONNREFUSED');
    expect(f).toContain('next probe in 30 seconds');
    const busy = fixtureModel({ activity: { kind: 'syncing', trigger: 'drain', done: 150, total: 600, at: '' } });
    expect(frame(<StatePanel status={busy.status} now={NOW} width={40} />)).toMatch(/SYNCING[\s\S]*drain 150\/600/);
  });
  it('last sync and next sync countdown with the effective interval', () => {
    expect(frame(<LastSyncPanel last={m.status.last_sync} now={NOW} />)).toMatch(/5 minutes ago · threshold_total[\s\S]*50 ops in 340 ms[\s\S]*ok/);
    expect(frame(<NextSyncPanel next={m.status.next_sync} interval={m.status.interval} paused={false} now={NOW} />)).toMatch(/Next sync: in 10m[\s\S]*every 15m \(base 30m\)/);
    expect(frame(<NextSyncPanel next={m.status.next_sync} interval={m.status.interval} paused now={NOW} />)).toContain('paused');
  });
  it('throughput sparkline and recent syncs', () => {
    const t = frame(<ThroughputPanel perMinute={m.perMinute} width={80} />);
    expect(t).toContain(`Throughput`);
    expect(t).toContain(`${m.perMinute.reduce((a, b) => a + b, 0)} ops synced in the last hour`);
    expect(t).toMatch(/[▁▂▃▄▅▆▇█]{20,}/);
    const r = frame(<RecentPanel recent={m.recent} now={NOW} rows={3} />);
    expect(r).toMatch(/threshold_total\s+50 ops\s+340 ms/);
    expect(r).toMatch(/periodic\s+0 ops\s+5012 ms FAILED/);
  });
  it('failed operations, conflicts, alerts, reduction and help', () => {
    expect(frame(<FailedPanel failed={m.failed} total={1} width={100} />)).toMatch(/Failed: 1[\s\S]*#7 tasks\/bad-1: rejected by the remote \(22007\)/);
    expect(frame(<ConflictsPanel conflicts={m.conflicts} total={1} width={100} />)).toMatch(/#9 supervisory_reports\/rep-1/);
    expect(frame(<AlertsPanel alerts={m.status.alerts} width={80} />)).toMatch(/queue_backlog: 623 operations pending/);
    expect(frame(<AlertsPanel alerts={[]} width={80} />)).toContain('none firing');
    expect(frame(<ReductionPanel reduction={m.status.reduction_24h} />)).toMatch(/96\.0% fewer bytes[\s\S]*530 → 30 ops/);
    // One small operation: the envelope outweighs it, and the panel says so instead of "-141% fewer".
    expect(frame(<ReductionPanel reduction={{ ...m.status.reduction_24h, operations_in: 1, operations_out: 1, bytes_in: 181, bytes_out: 437 }} />)).toMatch(/141\.4% more bytes/);
    expect(frame(<HelpPanel />)).toMatch(/s\s+sync now[\s\S]*q\s+quit/);
  });
  it('shows a failure\'s whole reason, wrapped, in the failures view (key f), when there is room', () => {
    const f = frame(<Dashboard model={m} width={80} height={24} showFailures />);
    const flat = f.replace(/[│╭╮╰╯─]/g, ' ').replace(/\s+/g, ' ');
    expect(flat).toContain('#7 INSERT tasks/bad-1 · 22007');
    // The reason is longer than a line; one failure has the room for all of it.
    expect(flat).toContain(m.failed[0]!.error_message!.replace(/\s+/g, ' '));
    expect(Math.max(...f.split('\n').map((l) => [...l].length))).toBeLessThanOrEqual(80);
  });
  it('says in its header how the coding-agent hooks do, and what failed', () => {
    expect(frame(<Dashboard model={m} width={160} height={40} />).split('\n')[0]).toContain('hooks: last event 30 seconds ago (PostToolUse)');
    const failing = fixtureModel({ hooks: { ...m.status.hooks, spooled: 3, failures: 2, last_failure: { at: '2026-08-01T11:58:00.000Z', problem: 'malformed payload: 9 bytes that are not JSON' } } });
    const head = frame(<Dashboard model={failing} width={200} height={40} />).split('\n')[0]!;
    expect(head).toContain('3 spooled, not yet recorded · 2 failures in 24 h, last: malformed payload: 9 bytes that are not JSON');
    const quiet = fixtureModel({ hooks: { last_event_at: null, last_event: null, spooled: 0, rejected: 0, failures: 0, last_failure: null, log: '/x', intake_error: null } });
    expect(frame(<Dashboard model={quiet} width={160} height={40} />).split('\n')[0]).not.toContain('hooks');
  });

  it('shows the fleet: a summary in the header, every system with key m, stale and failing first', () => {
    const view = fixtureFleet();
    expect(frame(<Dashboard model={m} width={200} height={40} fleet={view} />).split('\n')[0]).toContain('fleet 3, 1 stale, 1 failing');
    const f = frame(<Dashboard model={m} width={160} height={20} fleet={view} showFleet />);
    expect(f).toContain('Fleet: 3 systems · 1 stale · 1 failing · backlog 9');
    expect(f.indexOf('prod-03')).toBeLessThan(f.indexOf('backup-1'));
    expect(f.indexOf('backup-1')).toBeLessThan(f.indexOf('ws-42'));
    expect(f).toMatch(/prod-03 .*silent for 300 min/);
    const wide = frame(<Dashboard model={m} width={220} height={20} fleet={view} showFleet />);
    expect(wide).toMatch(/ws-42 .* · 7d: 41 tasks \$12\.35 5% failed/); // its coding-agent week, as `ccm-sync report` sums it
    expect(frame(<Dashboard model={m} width={160} height={20} fleet={{ unavailable: 'The embedded remote holds this machine only' }} showFleet />)).toContain('The embedded remote holds this machine only');
  });

  it('fits 80×24 and uses more room when there is more', () => {
    const small = frame(<Dashboard model={m} width={80} height={24} />);
    const lines = small.split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(80);
    expect(small).toContain(KEY_LINE);
    for (const title of ['Queue: 23, oldest 5m', 'State', 'Last sync', 'Next sync', 'Packaging', 'Alerts: 1', 'Throughput', 'Recent syncs', 'Failed: 1', 'Conflicts: 1']) expect(small).toContain(title);
    const big = frame(<Dashboard model={m} width={160} height={40} />);
    expect(big).toMatch(/Next sync[\s\S]*Packaging/);
    expect(big.split('\n')[2]).toContain('Next sync'); // a fourth panel joins the top row
  });
});
