/** `sync status` for a person (src/cli/status-lines.ts): what the daemon's last attempt ran into is said, not only counted. */
import { describe, expect, it } from 'vitest';
import { statusLines } from '../src/cli/status-lines.ts';
import { fixtureModel, NOW } from '../src/tui/sample.ts';

const lines = (activity: ReturnType<typeof fixtureModel>['status']['activity'], connection?: ReturnType<typeof fixtureModel>['status']['connection']) =>
  statusLines({ ...fixtureModel({ activity, ...(connection ? { connection } : {}) }).status }, NOW);

describe('sync status lines', () => {
  it('say why the daemon\'s last attempt did not sync, and when it tries again', () => {
    expect(lines({ kind: 'idle', at: '2026-08-01T11:59:50.000Z', reason: 'the remote speaks schema 1' })).toContain('Last attempt: failed 10 seconds ago: the remote speaks schema 1');
    expect(lines({ kind: 'backing_off', at: '2026-08-01T11:59:00.000Z', reason: 'worker crashed', next_retry_at: '2026-08-01T12:01:00.000Z' }))
      .toContain('Last attempt: backing off 1 minute ago: worker crashed; next try in 1 minute');
  });

  it('say nothing more after a sync that went through, or when the connection line already says it', () => {
    const quiet = (l: string[]) => l.filter((x) => x.startsWith('Last attempt'));
    expect(quiet(lines({ kind: 'idle', at: '2026-08-01T11:55:01.000Z' }))).toEqual([]);
    expect(quiet(lines({ kind: 'syncing', at: '2026-08-01T11:59:00.000Z', reason: 'x' }))).toEqual([]);
    expect(quiet(lines({ kind: 'backing_off', at: '2026-08-01T11:59:00.000Z', reason: 'ECONNREFUSED' }, { state: 'offline', since: '2026-08-01T11:58:00.000Z', reason: 'ECONNREFUSED', consecutive_failures: 3 }))).toEqual([]);
  });

  it('say that the last sync held operations for conflict review, not that it was ok', () => {
    const l = statusLines(fixtureModel({ last_sync: { at: '2026-08-01T11:59:00.000Z', trigger: 'manual', operations: 0, duration_ms: 89, success: true, conflicts: 1 } }).status, NOW);
    expect(l).toContain('Last sync: 1 minute ago (manual, 0 operations, 89 ms, 1 held for conflict review: ccm-sync conflicts list)');
  });
});
