-- What a coding-agent task used and cost, and how it went (schema 4).
--
-- Task summaries now carry the usage of the task's API responses, read from the session's
-- transcripts by the machine that ran it (src/store/usage.ts): tokens by kind, requests, models,
-- the estimated cost and the git branch; its repository (src/store/repos.ts); and, from its hook events (src/store/hook-events.ts), its
-- outcome, permission prompts and waits, denials, compactions and failures per tool. A remote without these columns still takes the summaries:
-- batch_sync keeps keys that name no column in `extra` (20261126000000_ccm_sync_contract.sql).
-- Nothing else changes: every client that speaks schema 2 keeps working.
alter table public.task_summaries
  add column if not exists input_tokens integer,
  add column if not exists output_tokens integer,
  add column if not exists cache_creation_tokens integer,
  add column if not exists cache_read_tokens integer,
  add column if not exists api_requests integer,
  add column if not exists cost_usd numeric,
  add column if not exists models jsonb,
  add column if not exists unpriced_models jsonb,
  add column if not exists git_branch text,
  add column if not exists git_branches jsonb,
  add column if not exists repo text,
  add column if not exists repo_root text,
  add column if not exists worktree text,
  add column if not exists model_switches integer,
  add column if not exists outcome text,
  add column if not exists failure_kind text,
  add column if not exists permission_requests integer,
  add column if not exists permission_wait_seconds numeric,
  add column if not exists permission_denials integer,
  add column if not exists compactions integer,
  add column if not exists tool_failures jsonb;

-- ccm_sync_info(): what this remote speaks. Clients need at least 2; 3 adds app_metadata.system_id;
-- 4 adds the task usage columns.
create or replace function public.ccm_sync_info() returns jsonb
language sql stable set search_path = '' as $$
  select jsonb_build_object('schema', 4)
$$;

-- ccm_visible_systems(): how many other systems' rows the caller can read in ccm_sync_systems.
-- Security invoker, so row-level security applies: for a system's own token it must be 0, which
-- `ccm-sync doctor` checks from each machine. Callers: authenticated (a system), service_role.
create or replace function public.ccm_visible_systems() returns bigint
language sql stable security invoker set search_path = '' as $$
  select count(*) from public.ccm_sync_systems where system_id is distinct from public.ccm_claim()
$$;
alter function public.ccm_visible_systems() owner to ccm_sync_owner;
revoke all on function public.ccm_visible_systems() from public, anon, authenticated, service_role;
grant execute on function public.ccm_visible_systems() to authenticated, service_role;
