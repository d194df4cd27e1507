/**
 * `local_records`: the local copy of each record of a table ccm-sync keeps locally (tasks,
 * contexts): kept current on record, and replaced by the remote's version when the remote wins.
 */
import { statements, type Db } from './db.ts';

export class LocalRecords {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = statements(db, {
      // patch: a recorded change, if newer than the copy; record_data is a partial row.
      // Params: table, id, data (JSON), changed_at, deleted (0/1).
      patch: `
        INSERT INTO local_records (table_name, record_id, data, changed_at, deleted) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (table_name, record_id) DO UPDATE SET
          data = CASE WHEN excluded.deleted = 1 THEN local_records.data
                      ELSE json_patch(coalesce(local_records.data, '{}'), excluded.data) END,
          changed_at = excluded.changed_at, deleted = excluded.deleted
        WHERE excluded.changed_at >= local_records.changed_at`,
      // replace: the remote's version of the record. Params: table, id, data (JSON), changed_at.
      replace: `
        INSERT INTO local_records (table_name, record_id, data, changed_at, deleted) VALUES (?, ?, ?, ?, 0)
        ON CONFLICT (table_name, record_id) DO UPDATE SET data = excluded.data, changed_at = excluded.changed_at, deleted = 0`,
      // gone: the remote no longer has the record. Params: table, id.
      gone: 'UPDATE local_records SET deleted = 1 WHERE table_name = ? AND record_id = ?',
    });
  }

  patch(table: string, id: string, data: string, changedAt: string, deleted: boolean): void {
    this.stmts.patch.run(table, id, data, changedAt, deleted ? 1 : 0);
  }

  replace(table: string, id: string, data: Record<string, unknown>, changedAt: string): void {
    this.stmts.replace.run(table, id, JSON.stringify(data), changedAt);
  }

  gone(table: string, id: string): void {
    this.stmts.gone.run(table, id);
  }
}
