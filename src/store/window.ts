/**
 * The outbox rows recorded in a window, for `ccm-sync test offline`: where the window starts and
 * ends (outbox ids), how many of its rows are still pending, and each row's fate.
 */
import { statements, type Db } from './db.ts';

const WINDOW_SQL = {
  // lastId: the newest outbox id (0 when empty).
  lastId: 'SELECT coalesce(max(id), 0) AS id FROM sync_queue',
  // pendingIn: rows of the window still pending. Params: after id, through id.
  pendingIn: "SELECT count(*) AS n FROM sync_queue WHERE id > ? AND id <= ? AND status = 'pending'",
  // rowsIn: every row of the window. Params: after id, through id.
  rowsIn: 'SELECT id, op_id, status, result FROM sync_queue WHERE id > ? AND id <= ?',
};

export class OutboxWindow {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = statements(db, WINDOW_SQL);
  }

  lastId(): number {
    return (this.stmts.lastId.get() as { id: number }).id;
  }

  pendingIn(after: number, through: number): number {
    return (this.stmts.pendingIn.get(after, through) as { n: number }).n;
  }

  rowsIn(after: number, through: number): { id: number; op_id: string; status: string; result: string | null }[] {
    return this.stmts.rowsIn.all(after, through) as { id: number; op_id: string; status: string; result: string | null }[];
  }
}
