/**
 * supabase/schema.sql is what supabase/migrations make of an empty database (scripts/schema.mjs):
 * the suite fails, naming the fix, when a migration changes and the file is not regenerated.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const run = (...args: string[]) => spawnSync(process.execPath, ['scripts/schema.mjs', ...args], { encoding: 'utf8', timeout: 120_000 });

describe('supabase/schema.sql', () => {
  it('is the schema the migrations make, under its guide', () => {
    const check = run('--check');
    expect(check.status, check.stderr).toBe(0);
    const text = readFileSync('supabase/schema.sql', 'utf8');
    expect(text.startsWith(readFileSync('supabase/schema-guide.sql', 'utf8').trimEnd())).toBe(true);
    expect(text).toMatch(/^CREATE FUNCTION public\.batch_sync\(batch jsonb\) RETURNS jsonb\n {4}LANGUAGE plpgsql SECURITY DEFINER$/m);
    expect(text).not.toMatch(/^(SET |\\restrict|-- Dumped)/m);
  });

  it('is caught when out of date, with the command that regenerates it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ccm-schema-'));
    try {
      const stale = path.join(dir, 'schema.sql');
      writeFileSync(stale, readFileSync('supabase/schema.sql', 'utf8').replace(/cost_usd numeric/, 'cost_usd integer'));
      const check = run('--check', '--file', stale);
      expect(check.status).toBe(1);
      expect(check.stderr).toMatch(/is not the schema supabase\/migrations makes: run `npm run schema` and commit it/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
