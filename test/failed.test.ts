/**
 * Dead letters from the command line, end to end against a real Postgres: `failed list`, `show`,
 * `retry` and `discard` (with its audit trail), what `sync now`, `sync status`, `sync health` and
 * `alerts` say meanwhile, and `sync now` naming what holds operations back instead of saying
 * nothing_to_sync.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { alike } from '../src/store/review.ts';
import { makeEnv, type TestEnv } from './helpers/env.ts';
import { runCli } from './helpers/cli.ts';
import { pgTest } from './helpers/fixtures.ts';

let env: TestEnv;
const cli = async (...args: string[]) => runCli(args, { env: env.env });
const json = async (...args: string[]) => {
  const r = await cli(...args, '--json');
  return { code: r.code, body: JSON.parse(r.stdout) as Record<string, unknown>, stderr: r.stderr };
};

pgTest.beforeAll(async ({ db }) => {
  await db.query("alter table alerts add constraint ccm_test_no_spam check (message is distinct from 'spam')");
  await db.query(`create function ccm_test_flaky() returns trigger language plpgsql as $$
    begin if new.message = 'flaky' then raise exception 'not now'; end if; return new; end $$`);
  await db.query('create trigger ccm_test_flaky before insert on alerts for each row execute function ccm_test_flaky()');
  env = makeEnv({ remote: { kind: 'postgres' }, sync: { retry: { base_delay_ms: 3_600_000, max_delay_ms: 3_600_000 } } }, { CCM_SYNC_DATABASE_URL: db.url });
});
afterAll(async () => {
  env.cleanup();
});

describe('failed operations from the command line', () => {
  it('lists, shows, retries and discards dead letters, keeping who discarded what and when', async () => {
    for (const [id, message] of [['a1', 'spam'], ['a2', 'spam'], ['a3', 'fine'], ['a4', 'flaky']]) {
      expect((await cli('enqueue', '--op', 'INSERT', '--table', 'alerts', '--id', id, '--data', JSON.stringify({ message }))).code).toBe(0);
    }
    const now = await json('sync', 'now');
    expect(now.code).toBe(1);
    expect(now.body).toMatchObject({ status: 'partial', operations_synced: 1, details: { held: { failed: 2, waiting: 1 } } });

    // Nothing left to send, but something held: `sync now` says what, not nothing_to_sync.
    const again = await cli('sync', 'now');
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/nothing sent[\s\S]*1 waiting to be retried \(next try in [\d.]+ (minutes|hours)\); last error:\n\s+1 × rejected by the remote \(P0001\): not now/);
    expect(again.stdout).toMatch(/2 failed \(dead letters, not retried\)[\s\S]*2 × rejected by the remote \(23514\)/);
    expect(again.stdout).not.toMatch(/nothing_to_sync/);

    const list = await json('failed', 'list');
    expect(list.body).toMatchObject({ failed: 2, reasons: [{ code: '23514', count: 2 }] });
    const [newest] = list.body.operations as { id: number; record_id: string }[];
    const shown = await json('failed', 'show', String(newest!.id));
    expect(shown.body).toMatchObject({ record_id: 'a2', status: 'failed', error_code: '23514', record_data: { message: 'spam' } });
    expect((await cli('failed', 'show', '999999')).code).toBe(2);

    const status = await json('sync', 'status');
    expect(status.body).toMatchObject({ failed: 2, waiting: { count: 1 } });
    // "Last sync" is the run that moved and refused something, not the empty one after it, and it
    // does not say "ok" over two dead letters.
    expect((await cli('sync', 'status')).stdout).toMatch(/^Last sync: .*\(manual, 1 operations, \d+ ms, 2 refused by the remote: ccm-sync failed list\)$/m);
    expect((await cli('sync', 'health')).stdout).toMatch(/Failed ops[\s\S]*\| 2 +\|/);
    expect((await cli('alerts')).code).toBe(1);

    // Discarding needs --yes, keeps the operation as discarded (with who), and clears the alert.
    const noYes = await cli('failed', 'discard', String(newest!.id));
    expect(noYes.code).toBe(2);
    expect(noYes.stderr).toMatch(/pass --yes to confirm/);
    const all = (list.body.operations as { id: number }[]).map((o) => String(o.id));
    const discarded = await json('failed', 'discard', ...all, '--yes', '--by', 'ops@example');
    expect(discarded.body).toMatchObject({ discarded: all.map(Number), by: 'ops@example' });
    const kept = await json('failed', 'list', '--discarded');
    expect(kept.body.operations).toEqual(expect.arrayContaining([expect.objectContaining({ status: 'discarded', discarded_by: 'ops@example' })]));
    expect((await json('failed', 'list')).body).toMatchObject({ failed: 0 });
    expect((await json('alerts')).body).toMatchObject({ firing: [] });
    // A discarded operation is not retried: that is an error, as JSON too.
    const notFailed = await cli('failed', 'retry', all[0]!, '--json');
    expect(notFailed.code).toBe(2);
    expect(JSON.parse(notFailed.stdout)).toEqual({ error: { code: 'INPUT_INVALID', message: expect.stringMatching(new RegExp(`no failed operation with id ${all[0]}`)) } });
    expect(notFailed.stderr).toMatch(/failed list/);
  });

  it('counts reasons that differ only in their numbers as one', () => {
    expect(alike([
      { code: '54000', message: 'record is 3210 bytes, over the limit of 2048', count: 2 },
      { code: '54000', message: 'record is 3212 bytes, over the limit of 2048', count: 1 },
      { code: '23514', message: 'check refuse_me', count: 2 },
    ], 5)).toEqual([
      { code: '54000', message: 'record is N bytes, over the limit of 2048', count: 3 },
      { code: '23514', message: 'check refuse_me', count: 2 },
    ]);
    // A code is not a number: CCM01 stays CCM01 (it read "CCMN" once).
    expect(alike([
      { code: 'CCM01', message: 'rejected by the remote (CCM01): operation at outbox position 7 is at or below watermark 12.', count: 1 },
      { code: 'CCM01', message: 'rejected by the remote (CCM01): operation at outbox position 8 is at or below watermark 12.', count: 1 },
    ], 5)).toEqual([
      { code: 'CCM01', message: 'rejected by the remote (CCM01): operation at outbox position N is at or below watermark 12.', count: 2 },
    ]);
  });
});
