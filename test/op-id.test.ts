/** Operation ids: UUIDv7 from the time and SQLite's randomness, ordered by time, unique. */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { OpIds } from '../src/op-id.ts';

describe('operation ids', () => {
  it('are version-7 UUIDs carrying their millisecond, unique across a large batch', () => {
    const db = new Database(':memory:');
    try {
      const ids = new OpIds((n) => db.prepare('SELECT randomblob(?)').pluck().get(n) as Buffer);
      const t = Date.parse('2026-11-26T00:00:00.123Z');
      const batch = Array.from({ length: 20_000 }, (_, i) => ids.next(t + Math.floor(i / 5000)));
      for (const id of batch.slice(0, 50)) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(new Set(batch).size).toBe(batch.length);
      expect(parseInt(batch[0]!.replace(/-/g, '').slice(0, 12), 16)).toBe(t);
      expect(parseInt(batch.at(-1)!.replace(/-/g, '').slice(0, 12), 16)).toBe(t + 3);
      // Time-ordered: a later millisecond sorts after an earlier one.
      expect(batch[19_999]! > batch[0]!).toBe(true);
    } finally {
      db.close();
    }
  });
});
