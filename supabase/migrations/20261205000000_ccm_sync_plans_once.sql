-- batch_sync plans its two big statements once per connection (schema 4: nothing else changes).
--
-- The insert statement of each table (the generated ccm_insert_<table>_<hash> functions) and the
-- merge (ccm_merge_rows) were planned afresh at each of a connection's first five calls, and after
-- that whenever PL/pgSQL judged a custom plan cheaper, since their inputs are parameters. Planning
-- them costs about as much as running them on a batch of a few hundred operations, and a fleet of
-- systems that each keep a connection for a few syncs never got past the first five. Now both
-- take the plan they make at their first call (plan_cache_mode = force_generic_plan). That is safe
-- for these two: the merge reads no table, and the insert reads only the tombstones, by primary
-- key, with enable_seqscan off, so a plan made while the tombstones were few still reads them by
-- key once they are many (test/spine-postgres.test.ts holds this).
--
-- Measured (docs/scale.md): a system's six syncs of 170 operations on fresh connections take 12-15%
-- less server time, and a call after the first about 16% less.

alter function public.ccm_merge_rows(text, jsonb, integer[], jsonb, jsonb, text[], text[])
  set plan_cache_mode = force_generic_plan;

-- ---------------------------------------------------------------------------------------------
-- ccm_make_writers(tbl) -> void
--   Purpose: (re)generates the table's insert function, ccm_insert_<table>_<hash of its columns>,
--            which runs ccm_insert_sql for the table with its plan made once per connection (a
--            generic plan, made with enable_seqscan off: it reads the tombstones by key).
--   Callers: migrations, for every synced table and again after adding a column (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_make_writers(tbl text) returns void
language plpgsql volatile security definer set search_path = '' as $f$
declare
  v_cols text[] := public.ccm_columns(tbl);
  v_sig text := format('public.%I(text, text, jsonb, bigint, text[], text[])', public.ccm_writer_name(tbl, v_cols));
begin
  execute format('create or replace function %s returns table (claimed integer[], merge integer[], results jsonb) '
                 'language plpgsql volatile security definer set search_path = '''' '
                 'set plan_cache_mode = force_generic_plan set enable_seqscan = off as %L',
                 replace(v_sig, '(text, text, jsonb, bigint, text[], text[])', '(sys text, tbl text, ops jsonb, settled bigint, bk text[], data_cols text[])'),
                 'begin return query ' || public.ccm_writer_sql(tbl, v_cols) || '; end');
  execute format('alter function %s owner to ccm_sync_owner', v_sig);
  execute format('revoke all on function %s from public, anon, authenticated, service_role', v_sig);
end
$f$;

select public.ccm_make_writers(t.name) from public.ccm_sync_tables t;

comment on function public.ccm_make_writers(text) is
  'Generates a table''s ccm_insert_<table>_<hash> function, which makes its plan once per connection (generic, enable_seqscan off). Migrations call it for every synced table and again after adding a column. Owner only.';
comment on function public.ccm_merge_rows(text, jsonb, integer[], jsonb, jsonb, text[], text[]) is
  'The merge of a table''s remaining writes in jsonb (it reads no table, so its plan is made once per connection): column by column, last write wins, against the rows'' clocks and the tombstones. Returns the rows to insert and update, the results, the stale op_ids and the sources. Owner only (ccm_write_table).';
