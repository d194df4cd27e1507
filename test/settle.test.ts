/**
 * Settling answers in groups (src/workers/sync-run.ts): the answers of several batches are written
 * back in one local transaction, and a failure of that transaction (here an outbox trigger standing
 * for a full disk) settles, counts and releases none of them: every operation stays pending, the
 * sync says why, and the next one settles them as the remote's duplicates, counting each once.
 */
import { afterAll, describe, expect } from 'vitest';
import { ManualClock } from '../src/clock.ts';
import { spineOn, type Spine } from './helpers/spine.ts';
import { pgTest } from './helpers/fixtures.ts';

let spine: Spine;
afterAll(() => spine?.close());

describe('settling answers together', () => {
  pgTest('settles none of a group whose commit fails, and all of them with the next sync', async ({ db }) => {
    // (a clock that stands still: the answers wait for the end of the run, 15 operations being fewer than 200)
    spine = spineOn(db, {}, new ManualClock('2026-05-01T10:00:00.000Z'));
    const { local } = spine;
    local.recorder.record(Array.from({ length: 15 }, (_, i) => ({ operation: 'INSERT' as const, table_name: 'tasks', record_id: `g-${i}`, record_data: { title: `g ${i}` } })));
    local.db.exec(`CREATE TRIGGER ccm_test_full_disk BEFORE UPDATE OF status ON sync_queue
      WHEN NEW.record_id = 'g-12' AND NEW.status = 'synced' BEGIN SELECT RAISE(ABORT, 'database or disk is full (test)'); END`);
    await expect(spine.sync({ limits: { batchSize: 5 } })).rejects.toThrow(/database or disk is full \(test\)/);
    // Three batches went up and were answered; their settle failed as one.
    const remote = async () => Number((await db.query<{ n: string }>("select count(*) n from tasks where system_id = $1 and id like 'g-%'", [spine.env.systemId]))[0]!.n);
    expect(await remote()).toBe(15);
    expect(local.outbox.pendingTotal()).toBe(15);
    expect(local.metrics.recent(1)[0]).toMatchObject({ success: 0, operations_synced: 0, error_message: expect.stringMatching(/disk is full/) });
    local.db.exec('DROP TRIGGER ccm_test_full_disk');
    expect(await spine.sync({ limits: { batchSize: 5 } })).toMatchObject({ status: 'synced', operations_synced: 15, batches: 3 });
    expect(local.outbox.pendingTotal()).toBe(0);
    const results = local.db.prepare("SELECT result, count(*) AS n FROM sync_queue WHERE record_id LIKE 'g-%' GROUP BY result").all();
    expect(results).toEqual([{ result: 'duplicate', n: 15 }]);
  });
});
