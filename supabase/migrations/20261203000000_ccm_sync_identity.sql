-- Identities a team already has (schema 3).
--
-- ccm_claim() is the system id of the caller, which row-level security and batch_sync compare
-- with each row's system_id. It now comes from the top-level system_id claim (a token minted by
-- `ccm-sync remote token`) or, when that is absent, from app_metadata.system_id: a Supabase Auth
-- user provisioned per machine, whose app_metadata only the service role can write.
-- user_metadata never counts, because its own user may change it.
create or replace function public.ccm_claim() returns text
language sql stable set search_path = '' as $$
  with c as (select coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), ''), '{}')::jsonb as j)
  select coalesce(nullif(c.j ->> 'system_id', ''), nullif(c.j -> 'app_metadata' ->> 'system_id', '')) from c
$$;

-- ccm_sync_info(): what this remote speaks. Clients need at least 2; 3 adds app_metadata.system_id.
create or replace function public.ccm_sync_info() returns jsonb
language sql stable set search_path = '' as $$
  select jsonb_build_object('schema', 3)
$$;
