/**
 * Local schema migrations 5 onwards (./migrations.ts has 1 to 4 and the rules): the coding agents'
 * detail, and what came after. A new migration goes at the end of this list.
 */
export const MIGRATIONS_SINCE_5: readonly string[] = [
  // 5: hook events kept whole (the payload as JSON, long strings truncated), with the fields a
  // summary groups by in columns, and each coding-agent session's current task.
  `
  CREATE TABLE hook_events_v5 (
    id            INTEGER PRIMARY KEY,
    event_id      TEXT NOT NULL,
    task_id       TEXT NOT NULL,
    session_id    TEXT,
    prompt_id     TEXT,
    agent_id      TEXT,
    event_name    TEXT,
    tool_name     TEXT,
    tool_use_id   TEXT,
    cwd           TEXT,
    success       INTEGER NOT NULL DEFAULT 1,
    timestamp     TEXT NOT NULL,
    payload       TEXT,
    payload_bytes INTEGER,
    UNIQUE (task_id, event_id)
  );
  INSERT INTO hook_events_v5 (id, event_id, task_id, session_id, event_name, tool_name, success, timestamp, payload)
    SELECT id, event_id, task_id, session_id, event_name, tool_name, success, timestamp,
           json_object('task_id', task_id, 'session_id', session_id, 'event_name', event_name, 'tool_name', tool_name,
                       'tool_input', CASE WHEN json_valid(tool_input) THEN json(tool_input) ELSE tool_input END,
                       'tool_response', CASE WHEN json_valid(tool_response) THEN json(tool_response) ELSE tool_response END,
                       'success', json(CASE success WHEN 0 THEN 'false' ELSE 'true' END), 'timestamp', timestamp)
    FROM hook_events;
  DROP TABLE hook_events;
  ALTER TABLE hook_events_v5 RENAME TO hook_events;

  -- One row per coding-agent session: how many prompts it has had, and the task of the last one
  -- (events without a prompt id of their own belong to it). Written on a prompt, read per event.
  CREATE TABLE hook_sessions (
    session_id TEXT PRIMARY KEY,
    prompts    INTEGER NOT NULL DEFAULT 0,
    task_id    TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 6: the Claude Code hook spool's receipts (src/hooks/spool.ts).
  `
  -- A spool file whose events this database holds: ingesting it again (a crash between the commit
  -- and the file's removal) records nothing twice. Rows go once their file is gone.
  CREATE TABLE hook_spool_done (
    name    TEXT PRIMARY KEY,
    done_at TEXT NOT NULL
  ) WITHOUT ROWID;

  -- A subagent's events belong to the task of its first event (it may run on in the background
  -- after the next prompt): found by this index.
  CREATE INDEX idx_hook_events_agent ON hook_events (agent_id, id) WHERE agent_id IS NOT NULL;
  `,
  // 7: what each API response of a coding-agent session used, read from its transcript (store/usage.ts),
  // and where it ran (store/repos.ts).
  `
  -- One row per API response (message id and request id), counted once however often the
  -- transcript repeats it. A task's usage is found by its session and time, or by its subagents.
  CREATE TABLE transcript_usage (
    key                   TEXT PRIMARY KEY,
    session_id            TEXT,
    agent_id              TEXT,
    at                    TEXT NOT NULL,
    model                 TEXT NOT NULL,
    input_tokens          INTEGER NOT NULL,
    output_tokens         INTEGER NOT NULL,
    cache_creation_tokens INTEGER NOT NULL,
    cache_read_tokens     INTEGER NOT NULL,
    cost_usd              REAL,
    git_branch            TEXT
  ) WITHOUT ROWID;
  CREATE INDEX idx_transcript_usage_session ON transcript_usage (session_id, at);
  CREATE INDEX idx_transcript_usage_agent ON transcript_usage (agent_id) WHERE agent_id IS NOT NULL;

  -- How far each transcript has been read: the end of its last whole line, and its inode.
  CREATE TABLE transcript_cursors (
    path    TEXT PRIMARY KEY,
    inode   INTEGER NOT NULL,
    offset  INTEGER NOT NULL,
    read_at TEXT NOT NULL
  ) WITHOUT ROWID;

  -- The git repository of each working directory events came from (store/repos.ts); root is null
  -- for a folder in no repository.
  CREATE TABLE hook_repos (
    cwd        TEXT PRIMARY KEY,
    root       TEXT,
    remote     TEXT,
    worktree   TEXT,
    branch     TEXT,
    checked_at TEXT NOT NULL
  ) WITHOUT ROWID;

  -- A session's prompts in time order: where each task's usage starts and ends.
  CREATE INDEX idx_hook_events_prompts ON hook_events (session_id, timestamp) WHERE event_name = 'UserPromptSubmit';
  `,
  // 8: an index every insert kept up and no query read.
  `
  DROP INDEX IF EXISTS idx_sync_queue_pending;
  `,
  // 9: this installation's id (src/remote/identity.ts), made with the database so that every copy
  // of it (a backup restored) carries it, and sent with every heartbeat.
  `
  INSERT OR IGNORE INTO sync_state (key, value, updated_at)
    VALUES ('installation', json_object('instance', lower(hex(randomblob(16))), 'created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
  `,
];
