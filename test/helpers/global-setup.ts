/**
 * Runs once before the suite: Postgres must answer, or every remote test would fail obscurely.
 */
import pg from 'pg';
import { pgUrl } from './pg.ts';

export default async function setup(): Promise<void> {
  const c = new pg.Client({ connectionString: pgUrl('postgres') });
  try {
    await c.connect();
    await c.query('select 1');
  } catch (err) {
    throw new Error(`the test Postgres at ${pgUrl('postgres')} does not answer (${(err as Error).message}); start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, { cause: err });
  } finally {
    await c.end().catch(() => undefined);
  }
}
