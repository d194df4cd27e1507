// Writes supabase/schema.sql: the remote's schema as the migrations leave it, for reading.
//
// A database is migrated from scratch (as `ccm-sync remote migrate` does), dumped with
// `pg_dump --schema-only` (our objects in public, without owners or the migration bookkeeping),
// normalised (no pg_dump banners, SET lines or per-run keys) and written under a short guide.
// Migrations stay the source of truth; this file is generated, and the test suite fails when it
// is out of date (test/schema.test.ts).
//
//   node scripts/schema.mjs           regenerate supabase/schema.sql (needs Postgres on 127.0.0.1:5432)
//   node scripts/schema.mjs --check   exit 1 if supabase/schema.sql is not what the migrations make
//   … --file F                        another file than supabase/schema.sql
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { BOOTSTRAP_SQL } from '../dist/remote/bootstrap.js';
import { migrateRemote } from '../dist/remote/migrations.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HOST = process.env.CCM_TEST_PGHOST ?? '127.0.0.1';
const PORT = process.env.CCM_TEST_PGPORT ?? '5432';
const USER = process.env.CCM_TEST_PGUSER ?? 'postgres';
const url = (db) => `postgres://${USER}@${HOST}:${PORT}/${db}`;

const GUIDE = readFileSync(path.join(root, 'supabase', 'schema-guide.sql'), 'utf8');

/** The dump of a freshly migrated database, normalised. */
export async function currentSchema() {
  const name = `ccm_schema_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url('postgres') });
  await admin.connect();
  await admin.query(`create database ${name} template template0`);
  try {
    const c = new pg.Client({ connectionString: url(name) });
    await c.connect();
    try {
      await c.query(BOOTSTRAP_SQL);
      await migrateRemote({ exec: async (sql) => void (await c.query(sql)), query: async (sql, params) => (await c.query(sql, params)).rows }, {});
    } finally {
      await c.end();
    }
    const dump = execFileSync('pg_dump', ['-h', HOST, '-p', PORT, '-U', USER, '--schema-only', '--no-owner', '-n', 'public', '-T', 'public.ccm_schema_migrations', name], { encoding: 'utf8', maxBuffer: 64 << 20 });
    return `${GUIDE.trimEnd()}\n\n${normalise(dump)}\n`;
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

function normalise(dump) {
  const out = [];
  let dropping = false;
  for (const line of dump.split('\n')) {
    if (/^\\(un)?restrict /.test(line) || /^SET /.test(line) || /^SELECT pg_catalog\.set_config/.test(line)) continue;
    if (/^-- (Dumped (from|by)|PostgreSQL database dump)/.test(line) || line === '--') continue;
    const label = /^-- Name: (.*); Type: (.*); Schema: .*; Owner: .*$/.exec(line);
    if (label) dropping = GENERATED.test(label[1]);
    if (dropping) continue;
    out.push(label ? `-- ${label[2].toLowerCase()} ${label[1]}` : line);
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n').trim();
}

/**
 * The functions ccm_make_writers generates per table (ccm_new_rows_<table>_<hash>), left out: each is
 * ccm_new_rows_sql rendered for one table, which the file shows once.
 */
const GENERATED = /^(FUNCTION )?ccm_new_rows_[a-z0-9_]+_[0-9a-f]{8}\(/;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--file');
  const file = at > 0 ? path.resolve(process.argv[at + 1]) : path.join(root, 'supabase', 'schema.sql');
  const text = await currentSchema();
  if (process.argv.includes('--check')) {
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
      console.error(`${path.relative(process.cwd(), file)} is not the schema supabase/migrations makes: run \`npm run schema\` and commit it`);
      process.exit(1);
    }
  } else {
    // Beside it, then renamed over it: an interrupted write leaves the old file, never half a new one.
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
    console.log(`wrote ${path.relative(process.cwd(), file)} (${text.split('\n').length} lines)`);
  }
}
