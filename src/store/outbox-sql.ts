/**
 * The outbox's SQL (./outbox.ts runs it): every statement on `sync_queue` and `pending_counts`,
 * each with what it takes and returns. Kept apart so the class reads as what it does.
 */
import { TABLES } from '../catalog.ts';

/** Operations ever inserted into sync_queue (its AUTOINCREMENT sequence). Returns: {seq}. */
const SEQ = `SELECT coalesce(max(seq), 0) AS seq FROM sqlite_sequence WHERE name = 'sync_queue'`;

/** The lowest id among pending operations of one priority rank (one index seek). */
const LOWEST_PENDING = (rank: number) => `SELECT min(id) AS m FROM sync_queue INDEXED BY idx_sync_queue_next WHERE status = 'pending' AND priority_rank = ${rank}`;

/** Tables whose operations the worker never reads record_data of (packaged from local detail). */
export const SUMMARY_TABLES = JSON.stringify(TABLES.filter((t) => t.sync === 'summary').map((t) => t.name));

/** The outbox's statements, prepared on first use. */
export const OUTBOX_SQL = {
  // insert: one operation. Params: NewOutboxRow. Returns: run info (lastInsertRowid).
  // A plain INSERT on purpose: the 'total' count relies on every successful insert taking
  // the next id (no OR IGNORE, no upsert, no explicit id).
  insert: (`
    INSERT INTO sync_queue (op_id, operation, table_name, record_id, record_data, priority, buckets, changed_at, created_at)
    VALUES (@op_id, @operation, @table_name, @record_id, @record_data, @priority, @buckets, @changed_at, @created_at)`),
  // bump: adds n to a bucket's pending count and `recorded` to its ever-recorded count.
  // Params: bucket, n, recorded.
  bump: (`
    INSERT INTO pending_counts (bucket, n, recorded) VALUES (?, ?, ?)
    ON CONFLICT (bucket) DO UPDATE SET n = n + excluded.n, recorded = recorded + excluded.recorded`),
  // counts: every counter, 'total' resolved against the sync_queue sequence.
  // Returns: [{bucket, n, recorded}].
  counts: (`
    SELECT c.bucket, c.n + iif(c.bucket = 'total', s.seq, 0) AS n, c.recorded + iif(c.bucket = 'total', s.seq, 0) AS recorded
    FROM pending_counts c, (${SEQ}) s`),
  // seq: operations ever inserted. Returns: {seq}.
  seq: SEQ,
  // page: the next pending operations in upload order (urgent first, then oldest), skipping
  // those waiting for a retry time and those excluded, and stopping at a byte budget of loaded
  // record_data. Summary tables come without record_data (their task id instead).
  // Params: now (epoch ms), exclude (JSON ids), all (1: every table), tables (JSON), summary
  // (JSON tables), limit, max_bytes. Returns: PendingRow[].
  page: (`
    WITH cand AS (
      SELECT id, priority_rank AS r, table_name IN (SELECT value FROM json_each(@summary)) AS s,
             coalesce(octet_length(record_data), 0) AS b
      FROM sync_queue INDEXED BY idx_sync_queue_next
      WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= @now)
        AND id NOT IN (SELECT value FROM json_each(@exclude))
        AND (@all = 1 OR priority_rank = 0 OR table_name IN (SELECT value FROM json_each(@tables)))
      ORDER BY priority_rank, id
      LIMIT @limit),
    run AS (SELECT id, r, s, b, sum(iif(s, 0, b)) OVER (ORDER BY r, id ROWS UNBOUNDED PRECEDING) - iif(s, 0, b) AS before FROM cand)
    SELECT q.id, q.op_id, q.operation, q.table_name, q.record_id,
           iif(run.s, NULL, q.record_data) AS record_data,
           iif(run.s, json_extract(q.record_data, '$.task_id'), NULL) AS task_id,
           run.b AS bytes, q.priority, q.buckets, q.changed_at, q.created_at, q.retry_count, q.force
    FROM run JOIN sync_queue q ON q.id = run.id
    WHERE run.before < @max_bytes
    ORDER BY run.r, run.id`),
  // markSynced: settles operations as synced, in one statement (a batch's answers are mostly
  // one result). Params: result, synced_at, ids (JSON array). Returns: [{buckets}] of the rows it
  // moved out of 'pending'.
  markSynced: (`
    UPDATE sync_queue SET status = 'synced', result = ?, synced_at = ?, error_message = NULL, next_attempt_at = NULL
    WHERE id IN (SELECT value FROM json_each(?)) AND status = 'pending'
    RETURNING buckets`),
  // markRetry: an upload attempt failed; try again later. Params: error, code, next_attempt_at, id.
  markRetry: (`
    UPDATE sync_queue SET retry_count = retry_count + 1, error_message = ?, error_code = ?, next_attempt_at = ?
    WHERE id = ? AND status = 'pending'`),
  // markFailed: dead letter. Params: error, code, failed_at, id.
  markFailed: (`
    UPDATE sync_queue SET status = 'failed', retry_count = retry_count + 1, error_message = ?, error_code = ?, failed_at = ?,
           next_attempt_at = NULL
    WHERE id = ? AND status = 'pending'`),
  // markConflict: waits for manual review. Params: remote_data, error, id.
  markConflict: (`
    UPDATE sync_queue SET status = 'conflict', remote_data = ?, error_message = ?, next_attempt_at = NULL
    WHERE id = ? AND status = 'pending'`),
  // lowest: the lowest id that may still be sent: pending (any rank), failed or conflict.
  // Returns: {low} (null when there is none).
  lowest: (`
    SELECT min(m) AS low FROM (${[0, 1, 2, 3].map(LOWEST_PENDING).join(' UNION ALL ')}
      UNION ALL SELECT min(id) FROM sync_queue INDEXED BY idx_sync_queue_status WHERE status IN ('failed', 'conflict'))`),
  // oldest: the created_at of the oldest pending operation. Returns: {created_at} or undefined.
  oldest: (`SELECT created_at FROM sync_queue WHERE id = (SELECT min(m) FROM (${[0, 1, 2, 3].map(LOWEST_PENDING).join(' UNION ALL ')}))`),
  // byPriority: pending operations per priority rank, from the pending index alone. Returns: [{rank, n}].
  byPriority: (`SELECT priority_rank AS rank, count(*) AS n FROM sync_queue INDEXED BY idx_sync_queue_next WHERE status = 'pending' GROUP BY priority_rank`),
  // byTable: pending operations per table (reads each pending row). Returns: [{key, n}].
  byTable: (`SELECT table_name AS key, count(*) AS n FROM sync_queue INDEXED BY idx_sync_queue_next WHERE status = 'pending' GROUP BY table_name ORDER BY n DESC`),
  // heldBack: failed and conflict counts, from their partial index. Returns: [{key, n}].
  heldBack: (`SELECT status AS key, count(*) AS n FROM sync_queue INDEXED BY idx_sync_queue_status WHERE status IN ('failed', 'conflict') GROUP BY status`),
  // prune: deletes up to `limit` synced rows settled before a time, oldest first. Params: iso, limit.
  prune: (`
    DELETE FROM sync_queue WHERE id IN (
      SELECT id FROM sync_queue INDEXED BY idx_sync_queue_synced WHERE status = 'synced' AND synced_at < ? ORDER BY synced_at LIMIT ?)`),
  // recount: rebuilds counters from the rows.
  pendingBuckets: (`SELECT buckets, count(*) AS n FROM sync_queue WHERE status = 'pending' GROUP BY buckets`),
  // setSeq: moves the id sequence forward. Params: seq.
  setSeq: (`UPDATE sqlite_sequence SET seq = ? WHERE name = 'sync_queue'`),
  // shiftTotal: keeps 'total' (an offset from the sequence) right when the sequence moves. Params: delta, delta.
  shiftTotal: (`UPDATE pending_counts SET n = n - ?, recorded = recorded - ? WHERE bucket = 'total'`),
};

