/**
 * `node embedded-init.js <dir>`: creates a fresh PGlite data directory (initdb) and exits. Run as a
 * child process by EmbeddedTransport.open, so the long-lived process never holds initdb's second
 * Postgres instance (see embedded-fs.ts). Writes into <dir> only; the caller renames it into place.
 */
import { lowMemoryWasm, startParams, tighten } from './embedded-fs.ts';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: embedded-init <data directory>\n');
  process.exit(2);
}
lowMemoryWasm();
const { PGlite } = await import('@electric-sql/pglite');
const db = await PGlite.create(dir, { startParams: startParams(PGlite.defaultStartParams) });
await db.close();
tighten(dir);
