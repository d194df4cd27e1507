/**
 * The local schema, as numbered migrations. Append only: never edit a migration that has shipped;
 * add the next number instead (at the end of ./migrations-since-5.ts). `user_version` records how
 * far a database has come.
 */
import { MIGRATIONS_SINCE_5 } from './migrations-since-5.ts';

export const MIGRATIONS: readonly string[] = [
  // 1: outbox, counters, metrics, state, local detail tables.
  `
  -- The outbox. One row per recorded operation; it leaves status 'pending' only by being settled.
  CREATE TABLE sync_queue (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id           TEXT NOT NULL UNIQUE,
    operation       TEXT NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    table_name      TEXT NOT NULL,
    record_id       TEXT NOT NULL,
    record_data     TEXT,
    priority        TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    priority_rank   INTEGER GENERATED ALWAYS AS (
                      CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END) VIRTUAL,
    buckets         TEXT NOT NULL DEFAULT '',
    changed_at      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    synced_at       TEXT,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'synced', 'failed', 'conflict')),
    result          TEXT,
    retry_count     INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    force           INTEGER NOT NULL DEFAULT 0,
    error_message   TEXT,
    remote_data     TEXT
  );
  CREATE INDEX idx_sync_queue_pending ON sync_queue (synced_at) WHERE synced_at IS NULL;
  CREATE INDEX idx_sync_queue_priority ON sync_queue (priority, created_at);
  CREATE INDEX idx_sync_queue_next ON sync_queue (priority_rank, id) WHERE status = 'pending';
  CREATE INDEX idx_sync_queue_status ON sync_queue (status) WHERE status IN ('failed', 'conflict');

  -- Pending operations per threshold bucket, kept in the same transaction as every insert and
  -- settle, so that the threshold check after an enqueue is one indexed read, not a count.
  CREATE TABLE pending_counts (
    bucket TEXT PRIMARY KEY,
    n      INTEGER NOT NULL DEFAULT 0
  );

  -- One row per sync.
  CREATE TABLE sync_metrics (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp         TEXT NOT NULL,
    operations_synced INTEGER NOT NULL,
    duration_ms       INTEGER NOT NULL,
    trigger_type      TEXT NOT NULL,
    success           INTEGER NOT NULL,
    error_message     TEXT,
    batches           INTEGER NOT NULL DEFAULT 0,
    bytes_sent        INTEGER NOT NULL DEFAULT 0,
    operations_in     INTEGER NOT NULL DEFAULT 0,
    bytes_in          INTEGER NOT NULL DEFAULT 0,
    operations_out    INTEGER NOT NULL DEFAULT 0,
    stale             INTEGER NOT NULL DEFAULT 0,
    conflicts         INTEGER NOT NULL DEFAULT 0,
    rejected          INTEGER NOT NULL DEFAULT 0,
    failed            INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX idx_sync_metrics_timestamp ON sync_metrics (timestamp);

  -- Small key/value state: last_sync, next_sync, connection, effective interval, pause flags.
  CREATE TABLE sync_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );

  -- Full detail of coding-agent hook events; the remote gets task summaries instead.
  CREATE TABLE hook_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      TEXT NOT NULL UNIQUE,
    task_id       TEXT NOT NULL,
    session_id    TEXT,
    event_name    TEXT,
    tool_name     TEXT,
    tool_input    TEXT,
    tool_response TEXT,
    success       INTEGER NOT NULL DEFAULT 1,
    timestamp     TEXT NOT NULL
  );
  CREATE INDEX idx_hook_events_task ON hook_events (task_id, timestamp);

  -- Local copies of the records ccm-sync owns (tasks, contexts, reports, ...), kept current on
  -- record and refreshed from the remote when last-write-wins keeps the remote version.
  CREATE TABLE local_records (
    table_name TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    data       TEXT,
    changed_at TEXT NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (table_name, record_id)
  );

  -- Alert rules that are firing now, so that each firing is queued once.
  CREATE TABLE alert_state (
    rule      TEXT PRIMARY KEY,
    alert_id  TEXT NOT NULL,
    message   TEXT NOT NULL,
    since     TEXT NOT NULL
  );
  `,
  // 2: a monotonic count of operations ever recorded per bucket, beside the pending count.
  `
  -- The threshold watch asks "was anything recorded since my last look?". Pending counts cannot
  -- answer that: a sync that settles one urgent operation while another is recorded leaves the
  -- pending count unchanged. This count only ever grows.
  ALTER TABLE pending_counts ADD COLUMN recorded INTEGER NOT NULL DEFAULT 0;
  `,
  // 3: fewer pages written per recorded operation. Each page a commit changes is one WAL frame,
  // and on the per-event path the frames are most of the cost.
  `
  -- hook_events: one index, UNIQUE (task_id, event_id), serves the per-task summary queries and
  -- ignores a repeated event; it replaces the event_id and (task_id, timestamp) indexes.
  CREATE TABLE hook_events_v3 (
    id            INTEGER PRIMARY KEY,
    event_id      TEXT NOT NULL,
    task_id       TEXT NOT NULL,
    session_id    TEXT,
    event_name    TEXT,
    tool_name     TEXT,
    tool_input    TEXT,
    tool_response TEXT,
    success       INTEGER NOT NULL DEFAULT 1,
    timestamp     TEXT NOT NULL,
    UNIQUE (task_id, event_id)
  );
  INSERT INTO hook_events_v3 (id, event_id, task_id, session_id, event_name, tool_name, tool_input, tool_response, success, timestamp)
    SELECT id, event_id, task_id, session_id, event_name, tool_name, tool_input, tool_response, success, timestamp FROM hook_events;
  DROP TABLE hook_events;
  ALTER TABLE hook_events_v3 RENAME TO hook_events;

  -- local_records: keyed by its primary key alone (WITHOUT ROWID), one b-tree instead of a table
  -- and its key index. Records of tasks and contexts are small, which is what WITHOUT ROWID suits.
  CREATE TABLE local_records_v3 (
    table_name TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    data       TEXT,
    changed_at TEXT NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (table_name, record_id)
  ) WITHOUT ROWID;
  INSERT INTO local_records_v3 (table_name, record_id, data, changed_at, deleted)
    SELECT table_name, record_id, data, changed_at, deleted FROM local_records;
  DROP TABLE local_records;
  ALTER TABLE local_records_v3 RENAME TO local_records;

  -- The 'total' counter is no longer written on insert. sync_queue ids come from AUTOINCREMENT,
  -- one per insert and never reused, so sqlite_sequence (which every insert updates anyway)
  -- already counts the operations ever recorded. From here on the 'total' row holds offsets from
  -- that sequence: pending = seq + n, recorded = seq + recorded (see Outbox).
  INSERT OR IGNORE INTO pending_counts (bucket, n, recorded) VALUES ('total', 0, 0);
  UPDATE pending_counts
     SET n = n - (SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'sync_queue'),
         recorded = recorded - (SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'sync_queue')
   WHERE bucket = 'total';
  `,
  // 4: dead letters a person can see and settle: a 'discarded' status with who and when, the
  // remote's error code, when an operation failed, and an index for pruning synced history.
  `
  -- A CHECK constraint cannot be altered in SQLite, so the outbox is copied once. Its AUTOINCREMENT
  -- sequence is kept exactly: the 'total' counter holds offsets from it (see migration 3).
  CREATE TABLE ccm_v4_seq AS SELECT coalesce(max(seq), 0) AS seq FROM sqlite_sequence WHERE name = 'sync_queue';
  CREATE TABLE sync_queue_v4 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id           TEXT NOT NULL UNIQUE,
    operation       TEXT NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    table_name      TEXT NOT NULL,
    record_id       TEXT NOT NULL,
    record_data     TEXT,
    priority        TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    priority_rank   INTEGER GENERATED ALWAYS AS (
                      CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END) VIRTUAL,
    buckets         TEXT NOT NULL DEFAULT '',
    changed_at      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    synced_at       TEXT,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'synced', 'failed', 'conflict', 'discarded')),
    result          TEXT,
    retry_count     INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    force           INTEGER NOT NULL DEFAULT 0,
    error_message   TEXT,
    remote_data     TEXT,
    error_code      TEXT,
    failed_at       TEXT,
    discarded_at    TEXT,
    discarded_by    TEXT
  );
  INSERT INTO sync_queue_v4 (id, op_id, operation, table_name, record_id, record_data, priority, buckets, changed_at, created_at,
                             synced_at, status, result, retry_count, next_attempt_at, force, error_message, remote_data)
    SELECT id, op_id, operation, table_name, record_id, record_data, priority, buckets, changed_at, created_at,
           synced_at, status, result, retry_count, next_attempt_at, force, error_message, remote_data FROM sync_queue;
  DROP TABLE sync_queue;
  ALTER TABLE sync_queue_v4 RENAME TO sync_queue;
  DELETE FROM sqlite_sequence WHERE name = 'sync_queue';
  INSERT INTO sqlite_sequence (name, seq) SELECT 'sync_queue', max(seq, (SELECT coalesce(max(id), 0) FROM sync_queue)) FROM ccm_v4_seq;
  DROP TABLE ccm_v4_seq;
  CREATE INDEX idx_sync_queue_pending ON sync_queue (synced_at) WHERE synced_at IS NULL;
  CREATE INDEX idx_sync_queue_priority ON sync_queue (priority, created_at);
  CREATE INDEX idx_sync_queue_next ON sync_queue (priority_rank, id) WHERE status = 'pending';
  CREATE INDEX idx_sync_queue_status ON sync_queue (status) WHERE status IN ('failed', 'conflict');
  -- Retention prunes synced rows oldest first; rows enter this index when they settle, never on insert.
  CREATE INDEX idx_sync_queue_synced ON sync_queue (synced_at) WHERE status = 'synced';
  -- Pending operations waiting out a retry delay, so that status can say what holds them.
  CREATE INDEX idx_sync_queue_held ON sync_queue (next_attempt_at) WHERE status = 'pending' AND next_attempt_at IS NOT NULL;
  `,
  ...MIGRATIONS_SINCE_5,
];
