-- batch_sync makes its plans once per connection, and reads tombstones by their whole key
-- (schema 4: nothing else changes).
--
-- 1. Tombstones are probed record by record (a LATERAL subquery with LIMIT 1 per record), in the
--    insert statement (ccm_insert_sql) and in the read of records that exist (ccm_read_sql).
--    Before, `record_id = any (...)` let the planner read every tombstone of the system's table
--    (an index condition on system_id and table_name alone) whenever its statistics were older
--    than the tombstones, with a plan made at the call as much as with a cached one; a probe per
--    record can only use the whole key.
-- 2. The insert statement (the generated ccm_insert_<table>_<hash> functions) and the merge
--    (ccm_merge_rows) were planned afresh at each of a connection's first five calls, since
--    their inputs are parameters, and a fleet of systems that each keep a connection for a few
--    syncs never got past the first five (on fresh connections, six 170-operation calls each,
--    the calls after the first took about 16% less server time with the plans kept). Now both take the plan they make at their first call
--    (plan_cache_mode = force_generic_plan): the merge reads no table, and the insert reads only
--    the tombstones, by the whole key (1). The read and write of records that exist stay planned
--    at every call (EXECUTE), as their reads of the rows need the call's own keys to be planned
--    by them when statistics are old (test/spine-postgres.test.ts holds the reads by key).
--
-- Measured (docs/scale.md): server CPU per 1,000 operations in the 100-system fleet bench back to
-- what it was before the set-based batch_sync.

alter function public.ccm_merge_rows(text, jsonb, integer[], jsonb, jsonb, text[], text[])
  set plan_cache_mode = force_generic_plan;

-- ccm_insert_sql() and ccm_read_sql(): as in 20261204000000_ccm_sync_set_based.sql, with the
-- tombstones probed by their whole key (1 above).
create or replace function public.ccm_insert_sql() returns text
language sql immutable set search_path = '' as $q$ select $sql$
with o as materialized (
  select q.o::int as i, q.op_id, q.rid, q.data, q.chg, q.seq, q.lseq, coalesce(q.src, '[]'::jsonb) as src,
         coalesce(q.vers, '{}'::jsonb) = '{}'::jsonb as unversioned,
         pg_catalog.lpad(greatest(0, pg_catalog.floor(extract(epoch from q.chg) * 1000000))::bigint::text, 17, '0')
           || pg_catalog.lpad(coalesce(q.seq, 9223372036854775807)::text, 19, '0') as ver
    from rows from (jsonb_to_recordset($3) as (op_id text, operation text, "table" text, record_id text, data jsonb,
           changed_at timestamptz, seq bigint, ledger_seq bigint, versions jsonb, source_ids jsonb, conflict text, force boolean))
         with ordinality q(op_id, operation, tbl, rid, data, chg, seq, lseq, vers, src, conflict, force, o)
   where q.tbl = $2
     and coalesce(upper(q.operation) in ('INSERT', 'UPDATE') and coalesce(q.conflict, 'lww') = 'lww' and not coalesce(q.force, false)
                  and q.rid <> '' and q.op_id is not null and q.chg is not null and jsonb_typeof(q.data) = 'object'
                  and not (q.data ?| $5) and jsonb_typeof(coalesce(q.vers, '{}'::jsonb)) = 'object'
                  and not coalesce(q.lseq <= $4, false), false)
),
claimed as (  -- an op_id the ledger holds does not come back (nor the second of an op_id given twice)
  insert into public.ccm_sync_ledger as l (system_id, op_id, table_name, record_id, result, ledger_seq)
  select $1, o.op_id::uuid, $2, o.rid, 'applied', o.lseq from o
  on conflict (system_id, op_id) do nothing
  returning l.op_id
),
-- Maps, not joins; each a CTE, so it is built once, and read only where a CASE needs it: in the
-- common batch every operation is claimed and every record is new.
all_claimed as materialized (select (select count(*) from claimed) = (select count(*) from o) as yes),
claimed_ids as materialized (select jsonb_object_agg(x.op_id, true) as ids from claimed x),
repeated as materialized (  -- records written twice in the batch
  select coalesce(jsonb_object_agg(r.rid, true), '{}'::jsonb) as rids from (select o.rid from o group by o.rid having count(*) > 1) r
),
tombs as materialized (  -- probed record by record, by the whole key, whatever the statistics say
  select coalesce(jsonb_object_agg(r.rid, true), '{}'::jsonb) as ids
    from (select distinct o.rid from o) r
    cross join lateral (select 1 from public.ccm_tombstones t
                         where t.system_id = $1 and t.table_name = $2 and t.record_id = r.rid limit 1) t
),
c as materialized (  -- the operations claimed now; plain: a new record's only write, every key at the operation's version
  select o.*, o.unversioned and not (r.rids ? o.rid) and not (t.ids ? o.rid) as plain
    from o, repeated r, tombs t
   where case when (select a.yes from all_claimed a) then true
              else coalesce((select m.ids from claimed_ids m) ? o.op_id::uuid::text, false) end
),
inserted as (
  insert into public.%1$I as t (%2$s, extra, system_id, id, updated_at, sync_seq, sync_op_id, sync_version, sync_clock)
  select %3$s, nullif(p.data - $6, '{}'::jsonb), $1, p.rid, p.chg, p.seq, p.op_id::uuid, p.ver,
         -- a key written as null keeps its version too, which the implicit clock cannot say
         case when p.data @? '$.* ? (@ == null)' then (select jsonb_object_agg(k, p.ver) from jsonb_object_keys(p.data) k) end
    from c p, jsonb_populate_record(null::public.%1$I, p.data) r
   where p.plain
  on conflict (system_id, id) do nothing  -- the record exists: merged by the second statement
  returning t.id
),
all_inserted as materialized (select (select count(*) from inserted) = (select count(*) from c where c.plain) as yes),
inserted_ids as materialized (select jsonb_object_agg(x.id, true) as ids from inserted x),
done as materialized (
  select c.*, c.plain and case when (select a.yes from all_inserted a) then true
                               else coalesce((select m.ids from inserted_ids m) ? c.rid, false) end as applied
    from c
),
sources as (  -- the hook events a packaged summary stands for
  insert into public.ccm_sync_ledger (system_id, op_id, table_name, record_id, result, ledger_seq)
  select $1, y::uuid, $2, d.rid, 'applied', d.lseq from done d cross join lateral jsonb_array_elements_text(d.src) y where d.applied
  on conflict (system_id, op_id) do nothing
)
select coalesce(array_agg(d.i order by d.i), '{}') as claimed,
       coalesce(array_agg(d.i order by d.i) filter (where not d.applied), '{}') as merge,
       coalesce(jsonb_agg(jsonb_build_object('op_id', d.op_id, 'status', 'applied') order by d.i) filter (where d.applied), '[]'::jsonb) as results
  from done d
$sql$ $q$;

create or replace function public.ccm_read_sql() returns text
language sql immutable set search_path = '' as $q$ select $sql$
with c as (select t.id, to_jsonb(t) as row from public.%1$I t where t.system_id = $1 and t.id = any ($2) for update)
select (select coalesce(jsonb_object_agg(c.id, c.row), '{}'::jsonb) from c) as cur,
       (select coalesce(jsonb_object_agg(r.rid, x.version), '{}'::jsonb)
          from unnest($2) r(rid)
          cross join lateral (select t.version from public.ccm_tombstones t
                               where t.system_id = $1 and t.table_name = $3 and t.record_id = r.rid limit 1) x) as tomb
$sql$ $q$;

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

comment on function public.ccm_insert_sql() is
  'Template of the first statement for a table: parse its operations, insert their ledger entries (a duplicate does not come back), probe the tombstones record by record, insert the new records. Rendered by ccm_writer_sql. Owner only.';
comment on function public.ccm_read_sql() is
  'Template of the statement that locks and reads the rows of the records a batch merges, by key, and probes their tombstones record by record. Owner only.';
comment on function public.ccm_make_writers(text) is
  'Generates a table''s ccm_insert_<table>_<hash> function, which makes its plan once per connection (generic, enable_seqscan off). Migrations call it for every synced table and again after adding a column. Owner only.';
comment on function public.ccm_merge_rows(text, jsonb, integer[], jsonb, jsonb, text[], text[]) is
  'The merge of a table''s remaining writes in jsonb (it reads no table, so its plan is made once per connection): column by column, last write wins, against the rows'' clocks and the tombstones. Returns the rows to insert and update, the results, the stale op_ids and the sources. Owner only (ccm_write_table).';
