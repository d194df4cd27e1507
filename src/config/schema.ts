/**
 * Every option ccm-sync reads, declared once. `ccm-sync config reference` prints this schema, and
 * README's configuration section is generated from the same descriptions.
 *
 * Mode presets (config/modes/*.yaml) are merged under the user's file before this schema parses it,
 * so explicit keys always win over the preset and the preset wins over these defaults.
 */
import cronModule from 'cron-validate';
import { z } from 'zod';

/** A system id: what the JWT's system_id claim and the remote's rows carry. */
export const SYSTEM_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** This machine's default system id: its hostname, made a valid id. */
export function defaultSystemId(hostname: string): string {
  const id = hostname.trim().replace(/[^A-Za-z0-9._:-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 128);
  return id || 'host';
}

// cron-validate is CommonJS with a default export; under ESM it may arrive wrapped once more.
type CronValidate = typeof import('cron-validate').default;
const validateCron = ((cronModule as unknown as { default?: CronValidate }).default ?? cronModule) as CronValidate;

const seconds = (def: number, what: string) => z.number().int().positive().default(def).describe(`${what} (seconds)`);

const cronString = z.string().superRefine((s, ctx) => {
  const fields = s.trim().split(/\s+/).length;
  const result = validateCron(s.trim(), { preset: 'default', override: { useSeconds: fields === 6 } });
  if (!result.isValid()) {
    ctx.addIssue({ code: 'custom', message: `invalid cron expression: ${result.getError()[0] ?? 'unparseable'} (5 fields, or 6 with seconds, e.g. "*/15 * * * *")` });
  }
});

export const scheduledJobSchema = z
  .object({
    name: z.string().min(1).describe('A unique name for the job'),
    cron: cronString.describe('When it runs, as a 5- or 6-field cron expression'),
    kind: z.enum(['sync', 'health_check', 'prune']).describe('sync: enqueue a sync job; health_check: evaluate alerts; prune: delete synced outbox rows and old metrics'),
    older_than_days: z.number().int().positive().default(7).describe('prune: delete synced rows older than this many days'),
  })
  .strict();

export const configSchema = z
  .object({
    system: z
      .object({
        id: z.string().regex(SYSTEM_ID, 'letters, digits and . _ : - only').optional().describe('This machine\'s system id; it must equal the system_id claim of its JWT. Default: this machine\'s hostname (other characters become -), so that two machines never merge into one system'),
        type: z.enum(['developer_workstation', 'production_server', 'backup_server']).default('developer_workstation').describe('Kind of system; picks the periodic interval when sync.interval_selection is auto'),
      })
      .strict()
      .prefault({}),
    sync: z
      .object({
        enabled: z.boolean().default(true).describe('When false, the daemon records but never syncs automatically'),
        mode: z.enum(['adaptive', 'aggressive', 'conservative']).default('adaptive').describe('Preset of intervals and thresholds (config/modes/<mode>.yaml)'),
        interval_selection: z.enum(['auto', 'manual']).default('auto').describe('auto: interval by system.type; manual: always intervals.default'),
        intervals: z
          .object({
            default: seconds(1800, 'Periodic interval for developer workstations and in manual selection'),
            high_priority_system: seconds(300, 'Periodic interval for production servers'),
            low_priority_system: seconds(3600, 'Periodic interval for backup servers'),
          })
          .strict()
          .prefault({}),
        adaptive: z
          .object({
            min_factor: z.number().positive().max(1).default(0.25).describe('Busiest systems sync at this fraction of the interval'),
            max_factor: z.number().min(1).default(2).describe('Idle systems sync at up to this multiple of the interval'),
            busy_ops_per_minute: z.number().positive().default(20).describe('Recording rate at which the interval reaches min_factor'),
          })
          .strict()
          .prefault({}),
        thresholds: z
          .object({
            max_pending_operations: z.number().int().positive().default(50).describe('Sync when this many operations are pending'),
            max_pending_tasks: z.number().int().positive().default(5).describe('Sync when this many task operations are pending'),
            max_pending_errors: z.number().int().positive().default(3).describe('Sync when this many error operations are pending (alerts of severity error/critical, failed hook events)'),
            max_pending_contexts: z.number().int().positive().default(1).describe('Sync when this many context operations are pending'),
          })
          .strict()
          .prefault({}),
        event_driven: z
          .object({
            enable_urgent: z.boolean().default(true).describe('Urgent operations start a sync at once'),
            immediate_on_error: z.boolean().default(true).describe('Critical errors start a sync at once'),
          })
          .strict()
          .prefault({}),
        max_ops_per_request: z.number().int().min(1).max(5000).default(50).describe('Most operations in one batch_sync call'),
        max_bytes_per_request: z.number().int().min(1024).default(1_000_000).describe('Most bytes in one batch_sync call; a single record over it is failed locally'),
        page_size: z.number().int().min(1).default(2000).describe('Operations read from the outbox per packaging step (a task\'s hook events in one page become one summary)'),
        request_timeout_ms: z.number().int().positive().default(30_000).describe('Timeout of one remote call'),
        job_timeout_ms: z.number().int().positive().default(900_000).describe('Timeout of one sync job; the worker aborts at the same moment'),
        retry: z
          .object({
            job_attempts: z.number().int().min(1).default(8).describe('Runs of a sync job before it is given up (its operations stay pending)'),
            base_delay_ms: z.number().int().min(0).default(1000).describe('First retry delay; doubles per attempt'),
            max_delay_ms: z.number().int().min(0).default(300_000).describe('Largest retry delay'),
            jitter: z.number().min(0).max(1).default(0.2).describe('Random share added to or taken from each delay'),
            operation_max_attempts: z.number().int().min(1).default(5).describe('Uploads of an operation the remote rejects before it is marked failed'),
          })
          .strict()
          .prefault({}),
        selective: z
          .object({
            backlog_operations: z.number().int().positive().default(10_000).describe('Selective sync starts when this many operations are pending'),
            offline_seconds: z.number().int().positive().default(3600).describe('...or when the system comes back after being offline this long'),
            first_tables: z.array(z.string()).default(['system_status', 'alerts', 'tasks', 'contexts', 'supervisory_reports']).describe('Tables that go first during selective sync, in order'),
            hook_events: z.enum(['summarise', 'skip']).default('summarise').describe('During selective sync, hook events are summarised (default) or skipped (marked synced without upload)'),
          })
          .strict()
          .prefault({}),
        scheduled_jobs: z.array(scheduledJobSchema).default([]).describe('Extra cron-style jobs the daemon runs'),
        max_future_seconds: z.number().int().positive().default(86_400).describe('A change time (--changed-at, changed_at) further ahead of this machine\'s clock than this is refused at enqueue'),
        strict_columns: z.boolean().default(false).describe('Refuse record_data keys that name no column of their table (exit 2 at enqueue) instead of keeping them in the remote row\'s extra column'),
      })
      .strict()
      .prefault({}),
    conflicts: z
      .object({
        manual_tables: z.array(z.string()).default([]).describe('Tables whose conflicts wait for `ccm-sync conflicts resolve` instead of last-write-wins'),
      })
      .strict()
      .prefault({}),
    offline: z
      .object({
        failures_before_offline: z.number().int().min(1).default(2).describe('Consecutive transport failures that mark the system offline'),
        probe_initial_ms: z.number().int().positive().default(1000).describe('First connectivity probe delay after going offline'),
        probe_max_ms: z.number().int().positive().default(300_000).describe('Largest probe delay'),
      })
      .strict()
      .prefault({}),
    monitoring: z
      .object({
        max_failures_per_hour: z.number().int().min(0).default(5).describe('Alert when more syncs than this failed in the last hour'),
        max_pending_operations: z.number().int().min(0).default(500).describe('Alert when more operations than this are pending'),
        max_seconds_since_success: z.number().int().positive().default(7200).describe('Alert when the last successful sync is older than this'),
        metrics_retention_days: z.number().int().positive().default(30).describe('sync_metrics rows older than this are pruned daily'),
        max_failed_operations: z.number().int().min(0).default(0).describe('Alert operations_failed while more operations than this are dead-lettered (status failed)'),
        heartbeat_minutes: z.number().int().positive().default(60).describe('The daemon tells the remote it is alive at least this often, even with nothing to sync (the fleet view)'),
        min_free_disk_mb: z.number().min(0).default(1).describe('The disk_full alert fires while the disk holding the home has less free space than this (MiB), or a write failed for lack of it'),
        token_expiry_warning_days: z.number().positive().default(14).describe('The token_expiring alert fires this long before the supabase token expires'),
        fleet_stale_minutes: z.number().positive().default(90).describe('`ccm-sync fleet` shows a system as stale when it has said nothing for this long (keep it above heartbeat_minutes)'),
      })
      .strict()
      .prefault({}),
    hooks: z
      .object({
        max_field_chars: z.number().int().min(64).default(8192).describe('Hook events keep each string (a file written, a command\'s output) up to this many characters locally; longer ones are cut, noting their size'),
        paths: z.enum(['plain', 'hashed']).default('plain').describe('hashed: task summaries carry salted hashes (h:…) of file paths, cwd and repository names instead of the names; the salt is CCM_SYNC_PATH_SALT, the same on every machine of the fleet. Commands and error messages are kept'),
        pricing_file: z.string().optional().describe('A price table over the shipped config/pricing.yaml (same shape: models: {<model>: {input, output, cache_write, cache_read}}, dollars per million tokens), for the cost_usd of task summaries; relative paths are inside the home'),
        upload: z.array(z.enum(['prompts'])).default([]).describe('What a task summary carries beyond counts, files, commands and errors: prompts adds the prompt texts (extra.prompts). File contents and tool output never leave the machine'),
      })
      .strict()
      .prefault({}),
    retention: z
      .object({
        synced_days: z.number().positive().default(7).describe('Synced operations are deleted from the outbox this many days after they synced'),
        hook_events_days: z.number().positive().default(30).describe('Hook events of a task idle this long (whose summary is synced) are deleted locally'),
        every_minutes: z.number().int().positive().default(60).describe('How often the daemon prunes, in bounded chunks'),
      })
      .strict()
      .prefault({}),
    api: z
      .object({
        port: z.number().int().min(0).max(65535).default(7787).describe('Port of the local HTTP API on 127.0.0.1 (0 picks a free one)'),
        token_file: z.string().default('api.token').describe('Bearer token file (created with mode 0600); relative paths are inside the home'),
      })
      .strict()
      .prefault({}),
    store: z
      .object({
        path: z.string().default('ccm.db').describe('Local SQLite database (created with mode 0600); relative paths are inside the home'),
        jobs_path: z.string().default('jobs.db').describe('Job runner (liteque) database, kept apart because it creates a table named tasks'),
      })
      .strict()
      .prefault({}),
    remote: z
      .object({
        kind: z.enum(['embedded', 'postgres', 'supabase']).default('embedded').describe('embedded: PGlite on disk; postgres: CCM_SYNC_DATABASE_URL; supabase: SUPABASE_URL, SUPABASE_PUBLISHABLE_KEY and this machine\'s token'),
        access_token_file: z.string().optional().describe('supabase: read this machine\'s token from this file, again whenever it changes (a refresh script or secrets agent keeps it current); relative to the home'),
        access_token_command: z.string().optional().describe('supabase: run this command (through the shell) for a fresh token on stdout, when the current one is near expiry or refused'),
        embedded_path: z.string().default('remote').describe('PGlite data directory for the embedded remote (files 0600, folders 0700)'),
        schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL name (letters, digits, _)').default('public').describe('Schema holding the synced tables and batch_sync on the remote (see README: Tables in their own schema)'),
        prune_ledger: z.boolean().default(true).describe('Let the remote delete this system\'s ledger entries below its settled watermark'),
        prune_interval_minutes: z.number().int().min(0).default(60).describe('How often a sync asks the remote to prune the ledger (0: with every batch)'),
      })
      .strict()
      .prefault({}),
    log_level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info').describe('Log level of the daemon'),
  })
  .strict();

export type ConfigFile = z.infer<typeof configSchema>;
