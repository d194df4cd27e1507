/**
 * A home syncing into a test database through the postgres transport: its settings, its outbox
 * (`local`), the transport, and `sync(job)`, one sync run as the worker thread would make it.
 * `close()` closes all three. For tests of the pipeline itself, in-process.
 */
import { openLocal, syncContext, type Local } from '../../src/local.ts';
import { PostgresTransport } from '../../src/remote/postgres.ts';
import { runSync } from '../../src/workers/sync-run.ts';
import { makeEnv, type TestEnv } from './env.ts';
import type { Clock } from '../../src/clock.ts';
import type { Settings } from '../../src/config/load.ts';
import type { SyncJobPayload, SyncResult } from '../../src/types.ts';
import type { TestDatabase } from './pg.ts';

export interface Spine {
  env: TestEnv;
  local: Local;
  transport: PostgresTransport;
  /** One sync run (trigger manual unless the job says otherwise), with these settings or the home's. */
  sync(job?: Partial<SyncJobPayload>, settings?: Settings): Promise<SyncResult>;
  close(): Promise<void>;
}

export function spineOn(db: TestDatabase, config: Record<string, unknown>, clock?: Clock): Spine {
  const env = makeEnv({ remote: { kind: 'postgres' }, ...config }, { CCM_SYNC_DATABASE_URL: db.url });
  const local = openLocal(env.settings, clock);
  const transport = new PostgresTransport({ connectionString: db.url, systemId: env.systemId, timeoutMs: 10_000 });
  return {
    env,
    local,
    transport,
    sync: (job = {}, settings = env.settings) => runSync(syncContext(local, settings, transport), { trigger: 'manual', reason: 'test', ...job }),
    close: async () => {
      await transport.close();
      local.close();
      env.cleanup();
    },
  };
}
