-- The map of a batch's claimed operations is built once (schema 5: nothing else changes).
--
-- The statement for a batch with repeats (ccm_new_rows_sql rendered with ON CONFLICT: every batch
-- under 50 operations, and any batch that holds an operation the ledger has already, such as one
-- sent again after a crash) picks the operations whose ledger entries went in through a map of
-- their op_ids (claimed_o). In 20261207000000 that map was a subquery in FROM, and Postgres, which
-- estimates every step of these plans at one row, put it on the inner side of a nested loop
-- without keeping its result: it built the map again for each operation. For 500 operations that
-- is 250,000 rows read, and 130 ms of a call that otherwise takes about 10 ms; a batch of 49 read
-- 2,401. Now the map is a scalar subquery, which Postgres computes once (an InitPlan), whatever
-- it estimates. Nothing else in the statement changes: the same rows, ledger entries and answers.
--
-- test/plans.test.ts runs batch_sync with auto_explain's row counts and fails on any step that
-- reads rows growing with the batch once per operation.

-- ccm_new_rows_sql() -> text: as in 20261207000000_ccm_sync_compact_answers.sql (its header says
-- what each placeholder is), with claimed_o computing its map once.
create or replace function public.ccm_new_rows_sql() returns text
language sql immutable set search_path = '' as $q$ select $sql$
with o as materialized (  -- the table's operations; plain: no versions per key and no tombstone
  select q.o::int as i, q.op_id, q.rid, q.data, q.chg, q.seq, q.lseq, q.src,
         coalesce(q.vers, '{}'::jsonb) = '{}'::jsonb
           and not exists (select 1 from public.ccm_tombstones t where t.system_id = $1 and t.table_name = $2 and t.record_id = q.rid) as plain,
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
claimed as (  -- the ledger entries
  insert into public.ccm_sync_ledger as l (system_id, op_id, table_name, record_id, result, ledger_seq)
  select $1, o.op_id::uuid, $2, o.rid, 'applied', o.lseq from o
  %4$s
  returning l.op_id
),
-- With repeats: the operations whose entries went in, through a map of their op_ids built once (a
-- scalar subquery is an InitPlan; a join, or a subquery in FROM, may be redone for every operation:
-- every step of these plans is estimated at one row).
claimed_o as materialized (
  select o.* from o where (select jsonb_object_agg(x.op_id, true) from claimed x) ? o.op_id::uuid::text
),
inserted as (  -- the records that are new, as they are; a record that exists is merged by the statements after this one
  insert into public.%1$I as t (%2$s, extra, system_id, id, updated_at, sync_seq, sync_op_id, sync_version, sync_clock)
  select %3$s, nullif(p.data - $6, '{}'::jsonb), $1, p.rid, p.chg, p.seq, p.op_id::uuid, p.ver,
         -- a key written as null keeps its version too, which the implicit clock cannot say
         case when p.data @? '$.* ? (@ == null)' then (select jsonb_object_agg(k, p.ver) from jsonb_object_keys(p.data) k) end
    from %5$s p, jsonb_populate_record(null::public.%1$I, p.data) r
   where p.plain
  on conflict (system_id, id) do nothing  -- (a record written twice in the batch goes in once; the other write merges)
  returning t.sync_op_id
),
applied as materialized (  -- op_id -> true for each that went in; null when every plain one did
  select case when (select count(*) from inserted) = (select count(*) from %5$s p where p.plain) then null
              else (select coalesce(jsonb_object_agg(x.sync_op_id, true), '{}'::jsonb) from inserted x) end as ids
),
sources as (  -- the hook events a packaged summary stands for
  insert into public.ccm_sync_ledger (system_id, op_id, table_name, record_id, result, ledger_seq)
  select $1, y::uuid, $2, d.rid, 'applied', d.lseq
    from %5$s d, applied a, jsonb_array_elements_text(d.src) y
   where d.src is not null and coalesce(a.ids ? d.op_id::uuid::text, d.plain)
  on conflict (system_id, op_id) do nothing
)
select coalesce(array_agg(d.i order by d.i), '{}') as claimed,
       coalesce(array_agg(d.i order by d.i) filter (where not coalesce(a.ids ? d.op_id::uuid::text, d.plain)), '{}') as to_merge
  %6$s
  from %5$s d, applied a
$sql$ $q$;

-- Each synced table's function again, from the template above (ccm_make_writers replaces them in
-- place: the same names, owner and rights).
select public.ccm_make_writers(t.name) from public.ccm_sync_tables t;
