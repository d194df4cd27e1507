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
 * `pgUrl(db.name, proxy.port)` is the database through the proxy. A file uses one of the three:
 * each makes its own `db`, so a `pgTest` and a `postgrestTest` in one file would get two databases.
 */
import { test } from 'vitest';
import { atFileEnd } from './file-end.ts';
import { createTestDatabase, PG_PORT, type TestDatabase } from './pg.ts';
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
  const proxy = new FaultProxy(PG_PORT);
  await proxy.listen();
  onCleanup(atFileEnd(() => proxy.close()));
  return proxy;
});

export type { TestDatabase, PostgrestServer, FaultProxy };
