/**
 * The test fixtures a remote test starts from, as vitest fixtures (scope: the file). A test names
 * what it needs and gets it ready; nothing is set up for a file that does not ask.
 *
 *   pgTest('syncs', async ({ db }) => { ... })               a migrated database of its own
 *   postgrestTest('over http', async ({ db, rest }) => ...)   plus a real PostgREST in front of it
 *   faultProxyTest('cut', async ({ db, proxy }) => ...)       plus a TCP proxy to the server we cut
 *
 * Each is made once per file, when the first test (or a `pgTest.beforeAll`) asks for it, and torn
 * down after the file's last test. Suite hooks get them too: `pgTest.beforeAll(async ({ db }) => …)`.
 * One database (and PostgREST, and proxy) serves every test of the file: tests keep apart by their
 * system ids (`makeEnv` gives each home a fresh one), and a test that sets `proxy.mode` or cuts it
 * sets it back. `viaProxy(db, proxy)` is the database's URL through the proxy. A file uses one of
 * the three: each makes its own `db`, so a `pgTest` and a `postgrestTest` in one file would get
 * two databases. The server is the local Postgres (127.0.0.1:5432, trust auth, user postgres;
 * CCM_TEST_PGHOST, CCM_TEST_PGPORT and CCM_TEST_PGUSER name another).
 */
import { test } from 'vitest';
import { atFileEnd } from './file-end.ts';
import { createTestDatabase, PG_HOST, PG_PORT, pgUrl, type TestDatabase } from './pg.ts';
import { startPostgrest, type PostgrestServer } from './postgrest.ts';
import { FaultProxy } from './proxy.ts';

// eslint-disable-next-line no-empty-pattern -- vitest reads what a fixture needs from this pattern
export const pgTest = test.extend('db', { scope: 'file' }, async ({}, { onCleanup }): Promise<TestDatabase> => {
  const db = await createTestDatabase();
  onCleanup(atFileEnd(() => db.drop()));
  return db;
});

export const postgrestTest = pgTest.extend('rest', { scope: 'file' }, async ({ db }, { onCleanup }): Promise<PostgrestServer> => {
  const rest = await startPostgrest(db);
  onCleanup(atFileEnd(() => rest.close()));
  return rest;
});

// eslint-disable-next-line no-empty-pattern -- as above
export const faultProxyTest = pgTest.extend('proxy', { scope: 'file' }, async ({}, { onCleanup }): Promise<FaultProxy> => {
  const proxy = new FaultProxy(PG_PORT, PG_HOST);
  await proxy.listen();
  onCleanup(atFileEnd(() => proxy.close()));
  return proxy;
});

/** The database's URL through the proxy (which listens on 127.0.0.1). */
export const viaProxy = (db: TestDatabase, proxy: FaultProxy): string => pgUrl(db.name, proxy.port, '127.0.0.1');

export type { TestDatabase, PostgrestServer, FaultProxy };
