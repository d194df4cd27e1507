/**
 * `alert_state`: the alert rules firing now, so that each firing is queued once as an `alerts`
 * operation and resolved once when it clears (see monitor/alerts.ts).
 */
import { statements, type Db } from './db.ts';

export interface FiringRow {
  rule: string;
  alert_id: string;
  message: string;
  since: string;
}

export class AlertState {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = statements(db, {
      // all: every firing rule. Returns: FiringRow[].
      all: 'SELECT rule, alert_id, message, since FROM alert_state ORDER BY rule',
      // start: a rule starts firing. Params: rule, alert_id, message, since.
      start: 'INSERT INTO alert_state (rule, alert_id, message, since) VALUES (?, ?, ?, ?)',
      // stop: a rule cleared. Params: rule.
      stop: 'DELETE FROM alert_state WHERE rule = ?',
    });
  }

  firing(): FiringRow[] {
    return this.stmts.all.all() as FiringRow[];
  }

  start(row: FiringRow): void {
    this.stmts.start.run(row.rule, row.alert_id, row.message, row.since);
  }

  stop(rule: string): void {
    this.stmts.stop.run(rule);
  }
}
