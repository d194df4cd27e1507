-- Compact answers, a ledger claimed in one pass, and less work per call (schema 5).
--
-- Where a batch_sync call spent its server time after 20261205000000 (profiles of the backend, and
-- each layer called on its own): in a 500-operation batch of new records, building, writing and
-- sending one JSON result per operation (nearly all {"op_id": ..., "status": "applied"}) about a
-- fifth, and the ledger's ON CONFLICT, which probes the ledger's key for every operation before
-- inserting it, about a tenth; in every call, about 1 ms of backend CPU in the layers around the
-- statements (a call of one new record used 1.7 ms, its statement 0.6): chiefly the lookup of a
-- table's insert function (to_regprocedure and an EXECUTE parsed and planned at every call) and
-- SQL functions with a SET clause, which Postgres plans again at every call. So:
--
-- 1. Compact answers. A client that sends `"answers": "compact"` gets {"applied": <how many>,
--    "results": {"<position>": result}}: a result for each operation that was not simply applied
--    (stale, duplicate, conflict, rejected, and the merged ones), positions counted from 1; every
--    position it leaves out was applied. A client that does not ask (an older ccm-sync) gets one
--    result per operation, as before. ccm_sync_info() says schema 5, which is how a client knows
--    it may ask (src/remote/upload.ts; src/remote/answers.ts checks and expands the answer).
-- 2. The ledger claimed in one pass. For 50 operations or more, each table's generated function
--    first inserts the ledger entries with a plain INSERT, which checks each op_id once, while
--    inserting it. An operation the ledger holds already (one sent again after a crash, or twice in
--    the batch) makes that statement fail on the ledger's primary key; the function then runs it
--    again with ON CONFLICT DO NOTHING, as before, which answers the repeat as a duplicate. A
--    subtransaction holds the first attempt, so nothing of it stays; any other unique violation
--    (a constraint of the table's own) is raised, and the slow path rejects that record alone.
--    Smaller batches, and the slow path's single operations, run the ON CONFLICT statement
--    directly: a subtransaction takes a transaction id, and saves little on a few entries.
-- 3. A leaner first statement (ccm_new_rows_sql): a record written twice in one batch goes in
--    once and its other write merges against it, the records that went in are told apart by op_id,
--    and the tombstone probe is part of reading the operations. The rows come out as before; the
--    answers differ in one case: a write that loses every key to a write before it in the same
--    batch is answered (and entered in the ledger) stale, where both were answered applied before.
--    The internal functions pass positions, not results, and batch_sync builds the answer once, in
--    the shape the client asked for (ccm_answers), after checking that every operation has one.
-- 4. Less work per call: ccm_new_rows, generated with the tables' functions, calls the one for a
--    table's columns by name (a CASE branch on the name, so no to_regprocedure and no EXECUTE; the
--    columns are still read from the catalog and hashed at every call, which is what keeps a column
--    added later right); ccm_columns, ccm_claim, ccm_bookkeeping, ccm_clock and the new helpers are
--    PL/pgSQL, whose plans are kept per connection.
-- 5. Readability: ccm_merge_rows takes the writes it competes from ccm_merge_writes, ccm_apply_op
--    its checks from ccm_check_op, and batch_sync its bookkeeping of the system from ccm_check_in,
--    so that each is under 80 lines; ccm_clock and the direct-edit trigger take the list of
--    bookkeeping columns from ccm_bookkeeping, the one place it is written out as a list.
--
-- Every guarantee stays: per-column last-write-wins with direct edits and tombstones, the ledger
-- keyed by (system_id, op_id) with the watermark, the claim check, definer rights, a result for
-- every operation (in either shape). supabase/schema.sql shows the functions as they stand.

-- The functions whose results change shape are replaced by new ones under new names, so that the
-- migration files can still be applied again, in order, after this one (a function's result type
-- cannot be replaced in place): ccm_apply_upserts by ccm_apply_writes, ccm_write_table by
-- ccm_apply_table, ccm_insert_sql by ccm_new_rows_sql, ccm_writer_sql and ccm_writer_name by
-- ccm_new_rows_sql_for and ccm_new_rows_function, the generated ccm_insert_<table>_<hash> by
-- ccm_new_rows_<table>_<hash>.
drop function if exists public.ccm_apply_upserts(text, jsonb, bigint);
drop function if exists public.ccm_write_table(text, text, jsonb, bigint);
drop function if exists public.ccm_writer_sql(text, text[]);
drop function if exists public.ccm_writer_name(text, text[]);
drop function if exists public.ccm_insert_sql();
do $$
declare
  f regprocedure;
begin
  -- the generated per-table insert functions of 20261204000000 and 20261205000000 (ccm_insert_<table>_<hash>)
  for f in select p.oid::regprocedure from pg_catalog.pg_proc p
            where p.pronamespace = (select c.relnamespace from pg_catalog.pg_class c where c.oid = 'public.ccm_sync_tables'::regclass)
              and p.proname ~ '^ccm_insert_[a-z_]+_[0-9a-f]{8}$' loop
    execute format('drop function %s', f);
  end loop;
end
$$;

create or replace function public.ccm_sync_info() returns jsonb
language sql stable set search_path = '' as $$
  select jsonb_build_object('schema', 5)
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_new_rows_sql() -> text
--   Purpose: the first statement for one table, as a format() template: %1$s the table, %2$s its
--            data columns, %3$s the same as r.<column>, %4$s what the ledger insert does with an
--            op_id it holds already, %5$s which operations were claimed, %6$s the INTO of the
--            generated function (empty for EXECUTE). ccm_new_rows_sql_for fills %4$s to %6$s for
--            the two ways it runs: for operations new to the ledger (a plain insert, which fails
--            with unique_violation on an op_id the ledger holds: every operation is claimed), or
--            for a batch with repeats (ON CONFLICT DO NOTHING: an op_id held already does not come
--            back, and only the operations whose entries went in are claimed).
--            Parameters: $1 system, $2 table, $3 operations, $4 settled watermark, $5 bookkeeping
--            columns, $6 data columns. It takes the operations the fast path can: INSERT or
--            UPDATE, last-write-wins, well formed, above the watermark.
--   Returns: one row: claimed (the positions whose ledger entry it inserted), to_merge (those of
--            them still to merge: the record exists, or has a tombstone, or the operation carries
--            versions per key). Every other claimed position was applied: its record went in new.
--   Callers: ccm_new_rows_sql_for, which renders it for a table (owner only).
-- ---------------------------------------------------------------------------------------------
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
-- With repeats: the operations whose entries went in (a map, not a join: every step of these plans
-- is estimated at one row, and a nested loop over two 500-row steps is 250,000 comparisons).
claimed_o as materialized (
  select o.* from o, (select jsonb_object_agg(x.op_id, true) as ids from claimed x) m where m.ids ? o.op_id::uuid::text
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

-- ---------------------------------------------------------------------------------------------
-- ccm_new_rows_sql_for(tbl, cols, repeats, into_clause) -> text; ccm_new_rows_function(tbl, cols) -> text
--   Purpose: ccm_new_rows_sql rendered for one table with these columns, for operations new to the
--            ledger or (repeats) for a batch with some it holds already, with this INTO; and the
--            name of the function ccm_make_writers generates for a table with these columns.
--   Callers: ccm_make_writers, ccm_new_rows (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_new_rows_sql_for(tbl text, cols text[], repeats boolean, into_clause text) returns text
language plpgsql stable set search_path = '' as $$
declare
  v_data text[] := array(select x from unnest(cols) x where x <> all (public.ccm_bookkeeping()));
begin
  return format(public.ccm_new_rows_sql(), tbl,
    (select string_agg(format('%I', x), ', ') from unnest(v_data) x), (select string_agg(format('r.%I', x), ', ') from unnest(v_data) x),
    case when repeats then 'on conflict (system_id, op_id) do nothing' else '' end,
    case when repeats then 'claimed_o' else 'o' end,
    into_clause);
end
$$;

create or replace function public.ccm_new_rows_function(tbl text, cols text[]) returns text
language plpgsql immutable set search_path = '' as $$
begin
  return format('ccm_new_rows_%s_%s', tbl, left(md5(array_to_string(cols, ',')), 8));
end
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_make_writers(tbl) -> void; ccm_new_rows(sys, tbl, ops, settled, bk, data_cols, cols) -> (claimed, to_merge)
--   Purpose: ccm_make_writers generates the table's function for its columns as they are,
--            ccm_new_rows_<table>_<hash of its columns>(sys, tbl, ops, settled, bk, data_cols) ->
--            (claimed, to_merge), and ccm_new_rows, which calls the one for a table's columns by
--            name (a CASE branch each, no to_regprocedure, no EXECUTE), and otherwise runs the
--            statement itself (correct, only slower): after a column is added, until a migration
--            calls ccm_make_writers for the table again. For 50 operations or more a generated
--            function tries the statement for operations new to the ledger first and, when the
--            ledger's key refuses an op_id (rolled back with its subtransaction), the one for
--            repeats; smaller batches run that one directly. Both keep their plans per connection
--            (generic, enable_seqscan off: the only table they read is the tombstones, by key).
--   Callers: migrations, for every synced table and again after adding a column (ccm_make_writers);
--            ccm_apply_table (ccm_new_rows). Owner only.
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_make_writers(tbl text) returns void
language plpgsql volatile security definer set search_path = '' as $f$
declare
  v_cols text[] := public.ccm_columns(tbl);
  v_name text := public.ccm_new_rows_function(tbl, v_cols);
  v_sig text := format('public.%I(text, text, jsonb, bigint, text[], text[])', v_name);
  v_cases text;
begin
  execute format(
    'create or replace function public.%I(sys text, tbl text, ops jsonb, settled bigint, bk text[], data_cols text[], '
    'out claimed integer[], out to_merge integer[]) language plpgsql volatile security definer set search_path = '''' '
    'set plan_cache_mode = force_generic_plan set enable_seqscan = off as %L', v_name,
    E'declare\n  v_constraint text;\nbegin\n'
      || E'  -- 50 operations or more: their ledger entries go in plainly first, in a subtransaction (it costs a\n'
      || E'  -- transaction id, and saves little on a few entries: smaller batches and the slow path skip it).\n'
      || E'  if jsonb_array_length(ops) >= 50 then\n    begin\n      '
      || public.ccm_new_rows_sql_for(tbl, v_cols, false, 'into claimed, to_merge')
      || E';\n      return;\n    exception when unique_violation then\n'
      || E'      get stacked diagnostics v_constraint = constraint_name;\n'
      || E'      if v_constraint is distinct from ''ccm_sync_ledger_pkey'' then\n'
      || E'        raise;  -- a constraint of the table''s own refused a record: the slow path rejects it alone\n'
      || E'      end if;  -- else an op_id the ledger holds (sent again after a crash, or twice in the batch): the statement below answers it\n'
      || E'    end;\n  end if;\n  '
      || public.ccm_new_rows_sql_for(tbl, v_cols, true, 'into claimed, to_merge')
      || E';\nend');
  execute format('alter function %s owner to ccm_sync_owner', v_sig);
  execute format('revoke all on function %s from public, anon, authenticated, service_role', v_sig);
  -- ccm_new_rows: one branch per generated function there is.
  select string_agg(format(E'    when %L then\n      select * into claimed, to_merge from public.%I(sys, tbl, ops, settled, bk, data_cols);', p.proname, p.proname),
                    E'\n' order by p.proname)
    into v_cases
    from pg_catalog.pg_proc p
   where p.pronamespace = (select c.relnamespace from pg_catalog.pg_class c where c.oid = 'public.ccm_sync_tables'::regclass)
     and p.proname ~ '^ccm_new_rows_[a-z0-9_]+_[0-9a-f]{8}$';
  execute format(
    'create or replace function public.ccm_new_rows(sys text, tbl text, ops jsonb, settled bigint, bk text[], data_cols text[], cols text[], '
    'out claimed integer[], out to_merge integer[]) language plpgsql volatile security definer set search_path = '''' '
    'set enable_seqscan = off as %L',
    E'begin\n  case public.ccm_new_rows_function(tbl, cols)\n' || v_cases
      || E'\n  else  -- no function for the table''s columns as they are: the statement itself\n'
      || E'    execute public.ccm_new_rows_sql_for(tbl, cols, true, '''') into claimed, to_merge using sys, tbl, ops, settled, bk, data_cols;\n'
      || E'  end case;\nend');
  alter function public.ccm_new_rows(text, text, jsonb, bigint, text[], text[], text[]) owner to ccm_sync_owner;
  revoke all on function public.ccm_new_rows(text, text, jsonb, bigint, text[], text[], text[]) from public, anon, authenticated, service_role;
end
$f$;

-- ---------------------------------------------------------------------------------------------
-- ccm_columns(tbl) -> text[]
--   Purpose: a synced table's columns, in order: the one definition the functions here take them
--            from (as in 20261204000000; PL/pgSQL now, so that its plan is kept per connection).
--   Callers: ccm_apply_table, ccm_make_writers (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_columns(tbl text) returns text[]
language plpgsql stable set search_path = '' as $$
begin
  return array(select a.attname::text from pg_catalog.pg_attribute a
                where a.attrelid = format('public.%I', tbl)::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum);
end
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_apply_table(sys, tbl, ops, settled) -> (claimed, merged)
--   Purpose: the operations of one table: the first statement (ccm_new_rows), then, for what it
--            left, the rows read (ccm_read_sql), merged (ccm_merge_rows) and written (ccm_write_sql).
--   Returns: claimed (the positions taken: each was applied unless merged answers it), merged
--            ({"<position>": result} for the merged ones).
--   Raises:  40001 when a record was created directly while the batch ran (the client retries).
--   Callers: ccm_apply_writes (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_apply_table(sys text, tbl text, ops jsonb, settled bigint,
    out claimed integer[], out merged jsonb)
-- (enable_seqscan off: every read and write here is by key, and statistics older than the table's
-- size must not make a scan of the whole table look cheaper)
language plpgsql volatile security definer set search_path = '' set enable_seqscan = off as $f$
declare
  v_bk constant text[] := public.ccm_bookkeeping();
  v_cols text[] := public.ccm_columns(tbl);
  v_data text[] := array(select c from unnest(v_cols) c where not (c = any (v_bk)));
  v_new record;
  v_read record;
  v_m record;
  v_complete boolean;
begin
  select * into v_new from public.ccm_new_rows(sys, tbl, ops, settled, v_bk, v_data, v_cols);
  claimed := v_new.claimed;
  merged := '{}';
  if cardinality(v_new.to_merge) = 0 then
    return;
  end if;
  execute format(public.ccm_read_sql(), tbl) into v_read
    using sys, array(select distinct ops -> (p - 1) ->> 'record_id' from unnest(v_new.to_merge) p), tbl;
  select * into v_m from public.ccm_merge_rows(sys, ops, v_new.to_merge, v_read.cur, v_read.tomb, v_bk, v_data);
  execute format(public.ccm_write_sql(), tbl,
      (select string_agg(format('%I', c), ', ') from unnest(v_cols) c), (select string_agg(format('r.%I', c), ', ') from unnest(v_cols) c),
      (select string_agg(format('%I', c), ', ') from unnest(v_cols) c where c not in ('system_id', 'id')),
      (select string_agg(format('r.%I', c), ', ') from unnest(v_cols) c where c not in ('system_id', 'id')))
    into v_complete using v_m.fresh, v_m.existing, sys, v_m.stale, tbl, v_m.sources;
  if not v_complete then
    raise exception using errcode = '40001', message = format('a record of %s was created directly while this batch was applied; retry the call', tbl);
  end if;
  merged := v_m.results;
end
$f$;

-- ---------------------------------------------------------------------------------------------
-- ccm_apply_writes(sys, ops, settled) -> (claimed, results)
--   Purpose: the fast path for up to 500 operations: ccm_apply_table for each table they name,
--            then ccm_known_results for the operations no table claimed.
--   Returns: claimed (positions a table took: applied, unless results answers them), results
--            ({"<position>": result} for the merged ones, duplicates and refusals). A position in
--            neither is left to ccm_apply_op (a DELETE, a manual-review or forced write, a
--            malformed operation).
--   Callers: batch_sync and ccm_apply_op (owner only); the system must be the caller's claim.
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_apply_writes(sys text, ops jsonb, settled bigint, out claimed integer[], out results jsonb)
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_table record;
  v_w record;
begin
  if sys is distinct from public.ccm_claim() then
    raise exception using errcode = '42501', message = 'ccm_apply_writes: the system does not match the caller''s system_id claim';
  end if;
  claimed := '{}';
  results := '{}';
  for v_table in
    select t.name from public.ccm_sync_tables t where t.name in (select e ->> 'table' from jsonb_array_elements(ops) e) order by t.name
  loop
    select * into v_w from public.ccm_apply_table(sys, v_table.name, ops, settled);
    claimed := claimed || v_w.claimed;
    results := results || v_w.merged;
  end loop;
  if cardinality(claimed) < jsonb_array_length(ops) then
    results := results || public.ccm_known_results(sys, ops, claimed, settled);
  end if;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_answers(ops, results, compact) -> jsonb
--   Purpose: the answer to a batch whose every operation is answered: results holds a result for
--            each operation that was not simply applied ({"<position>": result}).
--   Returns: compact: {"applied": <operations not in results>, "results": results}; otherwise
--            one result per operation, in order, {"op_id", "status": "applied"} for those not in
--            results (the answer of schema 4 and before).
--   Callers: batch_sync (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_answers(ops jsonb, results jsonb, compact boolean) returns jsonb
language plpgsql immutable set search_path = '' as $$
begin
  if compact then
    return jsonb_build_object('applied', jsonb_array_length(ops) - (select count(*) from jsonb_object_keys(results)), 'results', results);
  end if;
  return coalesce((select jsonb_agg(coalesce(results -> g.i::text, jsonb_build_object('op_id', ops -> (g.i - 1) -> 'op_id', 'status', 'applied'))
                                    order by g.i)
                     from generate_series(1, jsonb_array_length(ops)) g(i)), '[]'::jsonb);
end
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_claim() -> text; ccm_bookkeeping() -> text[]
--   As in 20261203000000 and 20261204000000 (the caller's system id from its JWT claims; the
--   columns ccm-sync maintains itself), in PL/pgSQL now: a SQL function with a SET clause is
--   planned again at every call, and batch_sync calls these for every batch.
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_claim() returns text
language plpgsql stable set search_path = '' as $$
declare
  v_claims jsonb := coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), ''), '{}')::jsonb;
begin
  return coalesce(nullif(v_claims ->> 'system_id', ''), nullif(v_claims -> 'app_metadata' ->> 'system_id', ''));
end
$$;

create or replace function public.ccm_bookkeeping() returns text[]
language plpgsql immutable set search_path = '' as $$
begin
  return array['system_id', 'id', 'extra', 'updated_at', 'sync_seq', 'sync_op_id', 'sync_version', 'sync_clock'];
end
$$;
-- (any role: ccm_clock, which any role may call, takes the list from here)
grant execute on function public.ccm_bookkeeping() to anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- ccm_clock(r) -> jsonb; ccm_stamp_direct_write() -> trigger
--   As in 20261126000000 (a row's version per column; the trigger that gives a direct edit its
--   version), with the bookkeeping columns from ccm_bookkeeping, their one definition, and
--   ccm_clock in PL/pgSQL (the trigger calls it for every row a direct update changes).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_clock(r jsonb) returns jsonb
language plpgsql immutable set search_path = '' as $$
begin
  return coalesce(nullif(r -> 'sync_clock', 'null'::jsonb),
    (select coalesce(jsonb_object_agg(f.key, r ->> 'sync_version'), '{}'::jsonb)
       from jsonb_each((r - public.ccm_bookkeeping()) || coalesce(nullif(r -> 'extra', 'null'::jsonb), '{}'::jsonb)) f
      where f.value <> 'null'::jsonb));
end
$$;

create or replace function public.ccm_stamp_direct_write() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_bk constant text[] := public.ccm_bookkeeping();
  v_when timestamptz;
  v_at text;
  v_new jsonb;
  v_old jsonb;
  v_stamp jsonb;
begin
  if tg_op = 'UPDATE' and (new.id is distinct from old.id or new.system_id is distinct from old.system_id) then
    raise exception using errcode = '42501', message = 'a synced record keeps its system_id and id',
      hint = 'Delete it and insert the record under its new id instead.';
  end if;
  v_when := public.ccm_direct_at(new.system_id, tg_table_name, new.id, case when tg_op = 'UPDATE' then old.sync_version end);
  v_at := public.ccm_version(v_when, null);
  if tg_op = 'INSERT' then
    new.sync_clock := null; -- every column with a value has sync_version (see ccm_clock)
    new.sync_version := v_at;
  else
    v_new := (to_jsonb(new) - v_bk) || coalesce(nullif(to_jsonb(new) -> 'extra', 'null'::jsonb), '{}'::jsonb);
    v_old := (to_jsonb(old) - v_bk) || coalesce(nullif(to_jsonb(old) -> 'extra', 'null'::jsonb), '{}'::jsonb);
    select coalesce(jsonb_object_agg(k.key, v_at), '{}'::jsonb) into v_stamp
      from (select key from jsonb_each(v_new) union select key from jsonb_each(v_old)) k
     where v_new -> k.key is distinct from v_old -> k.key;
    new.sync_clock := public.ccm_clock(to_jsonb(old)) || v_stamp;
    new.sync_version := greatest(old.sync_version, v_at);
  end if;
  new.updated_at := v_when;
  new.sync_seq := null;
  new.sync_op_id := null;
  return new;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- batch_sync(batch) -> jsonb
--   Purpose: one batch of one system's operations, applied in one transaction, each once.
--   Inputs:  {"system_id", "operations": [...], "settled_through"?, "prune_ledger"?, "heartbeat"?,
--            "answers"?: "compact"} (src/remote/upload.ts builds it and splits the batches).
--   Returns: a result for every operation: applied, stale (with "remote"), duplicate (with
--            "first_status"), conflict (manual review, with "remote") or rejected (SQLSTATE,
--            message; CCM01 at or below the watermark). One per operation, in order; or, with
--            "answers": "compact", {"applied": n, "results": {"<position>": result}} listing only
--            those not simply applied (ccm_answers).
--   Callers: authenticated (a system's token) and service_role; it refuses a batch for another
--            system than the caller's JWT names. Security definer: the caller needs no table rights.
-- ---------------------------------------------------------------------------------------------
create or replace function public.batch_sync(batch jsonb) returns jsonb
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_claim text := public.ccm_claim();
  v_ops jsonb := coalesce(batch -> 'operations', '[]'::jsonb);
  v_reported bigint := (batch ->> 'settled_through')::bigint;
  v_settled bigint;
  v_n integer;
  v_claimed integer[] := '{}';  -- positions a table took
  v_results jsonb := '{}';      -- position -> result, for every operation not simply applied
  v_part record;
  v_rest integer[];
  v_i integer := 0;
begin
  if v_claim is null then
    raise exception using errcode = '42501',
      message = 'batch_sync: the caller''s JWT has no system_id claim',
      hint = 'Give each system a JWT with a system_id claim (see `ccm-sync remote token`).';
  end if;
  if batch ->> 'system_id' is distinct from v_claim then
    raise exception using errcode = '42501',
      message = format('batch_sync: batch is for system %L but the caller''s JWT is for system %L', batch ->> 'system_id', v_claim);
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('ccm-sync batch_sync'), pg_catalog.hashtext(v_claim));
  if jsonb_typeof(v_ops) <> 'array' then
    raise exception using errcode = '22023', message = 'batch_sync: operations must be an array';
  end if;
  v_n := jsonb_array_length(v_ops);
  v_settled := public.ccm_check_in(v_claim, batch, v_n > 0);
  if v_reported is null then
    v_settled := null; -- a client that reports no watermark (an older ccm-sync) is judged by the ledger alone
  end if;

  -- The fast path, 500 operations to a subtransaction; a chunk that fails is left to the slow path.
  while v_i < v_n loop
    begin
      select * into v_part from public.ccm_apply_writes(v_claim, case when v_n <= 500 then v_ops
        else (select jsonb_agg(e order by o) from jsonb_array_elements(v_ops) with ordinality t(e, o) where o > v_i and o <= v_i + 500) end,
        v_settled);
      v_claimed := v_claimed || case when v_i = 0 then v_part.claimed else array(select p + v_i from unnest(v_part.claimed) p) end;
      v_results := v_results || case when v_i = 0 then v_part.results
        else coalesce((select jsonb_object_agg((r.key::int + v_i)::text, r.value) from jsonb_each(v_part.results) r), '{}'::jsonb) end;
    exception when others then
      if public.ccm_is_transient(sqlstate) then
        raise;
      end if;
    end;
    v_i := v_i + 500;
  end loop;

  -- The slow path: what the fast path left, one operation at a time.
  if cardinality(v_claimed) < v_n then
    v_rest := array(select g from generate_series(1, v_n) g
                    except select unnest(v_claimed)
                    except select k::int from jsonb_object_keys(v_results) k order by 1);
    if cardinality(v_rest) > 0 then
      v_results := v_results || public.ccm_apply_isolated(v_claim, v_ops, v_rest, v_settled);
      -- Every position is now claimed or answered: a compact answer calls the unlisted ones applied.
      if exists (select 1 from unnest(v_rest) r where jsonb_typeof(v_results -> r::text) is distinct from 'object') then
        raise exception using errcode = 'CCM10', message = 'batch_sync left an operation of the batch unanswered, so none of it is applied',
          hint = 'This is a fault in the remote''s SQL: report it with the batch (`ccm-sync sync status` shows what waits).';
      end if;
    end if;
  end if;
  return public.ccm_answers(v_ops, v_results, batch ->> 'answers' = 'compact');
end
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_check_in(sys, batch, uploading) -> bigint
--   Purpose: what a batch says about its system, kept in ccm_sync_systems: the settled watermark
--            (never lowered), the heartbeat, when the system was last seen and last uploaded;
--            with "prune_ledger", the system's ledger entries at or below the watermark deleted.
--   Returns: the system's settled watermark after this batch.
--   Callers: batch_sync, holding the system's advisory lock (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_check_in(sys text, batch jsonb, uploading boolean) returns bigint
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_settled bigint;
  v_pruned bigint;
begin
  insert into public.ccm_sync_systems as s (system_id, settled_through, heartbeat, last_batch_at)
  values (sys, coalesce((batch ->> 'settled_through')::bigint, 0), batch -> 'heartbeat', case when uploading then now() end)
  on conflict (system_id) do update
    set settled_through = greatest(s.settled_through, excluded.settled_through),
        heartbeat = coalesce(excluded.heartbeat, s.heartbeat),
        last_seen_at = now(),
        last_batch_at = coalesce(excluded.last_batch_at, s.last_batch_at)
  returning s.settled_through, s.pruned_through into v_settled, v_pruned;
  if coalesce((batch ->> 'prune_ledger')::boolean, false) and v_settled > v_pruned then
    delete from public.ccm_sync_ledger l where l.system_id = sys and l.ledger_seq > v_pruned and l.ledger_seq <= v_settled;
    update public.ccm_sync_systems set pruned_through = v_settled where system_id = sys;
  end if;
  return v_settled;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_check_op(op) -> void
--   Purpose: raises 22023 for an operation batch_sync cannot apply as it stands: a table ccm-sync
--            does not sync, an unknown operation, no record_id or changed_at, data that is not an
--            object or that writes a bookkeeping column, versions that are not an object.
--   Callers: ccm_apply_op, whose caller (ccm_apply_isolated) rejects the operation alone (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_check_op(op jsonb) returns void
language plpgsql stable security definer set search_path = '' as $$
declare
  v_data jsonb := coalesce(op -> 'data', '{}'::jsonb);
  v_bad text[];
begin
  if not exists (select 1 from public.ccm_sync_tables t where t.name = op ->> 'table') then
    raise exception using errcode = '22023', message = format('table %L is not synced by ccm-sync', op ->> 'table'),
      hint = 'See `ccm-sync tables` for the synced tables.';
  end if;
  if upper(coalesce(op ->> 'operation', '')) not in ('INSERT', 'UPDATE', 'DELETE') then
    raise exception using errcode = '22023', message = format('unknown operation %L', op ->> 'operation');
  end if;
  if coalesce(op ->> 'record_id', '') = '' then
    raise exception using errcode = '22023', message = 'operation has no record_id';
  end if;
  if (op ->> 'changed_at')::timestamptz is null then
    raise exception using errcode = '22023', message = 'operation has no changed_at';
  end if;
  if jsonb_typeof(v_data) <> 'object' then
    raise exception using errcode = '22023', message = 'operation data must be a JSON object';
  end if;
  if jsonb_typeof(coalesce(op -> 'versions', '{}'::jsonb)) <> 'object' then
    raise exception using errcode = '22023', message = 'operation versions must be a JSON object of [changed_at, seq] by key';
  end if;
  -- an id in data is the record's own id only when it matches record_id (ccm_apply_op drops it)
  select array_agg(k) into v_bad from jsonb_object_keys(v_data) k
   where k = any (public.ccm_bookkeeping()) and not (k = 'id' and v_data ->> 'id' = op ->> 'record_id');
  if v_bad is not null then
    raise exception using errcode = '22023',
      message = format('record_data holds %s, which ccm-sync maintains itself', array_to_string(v_bad, ', ')),
      hint = 'Remove them; a change time goes in changed_at.';
  end if;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_apply_op(sys, op, settled) -> jsonb
--   Purpose: one operation the fast path left: it checks the operation (ccm_check_op raises for a
--            malformed one, which ccm_apply_isolated rejects alone), answers a duplicate or a
--            refusal, holds a manual-review write that loses for review (conflict), and applies an
--            INSERT or UPDATE through ccm_apply_writes or a DELETE through ccm_apply_delete.
--   Returns: its result, never null.
--   Callers: ccm_apply_isolated (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_apply_op(sys text, op jsonb, settled bigint) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_op_id uuid := (op ->> 'op_id')::uuid;
  v_table text := op ->> 'table';
  v_rid text := op ->> 'record_id';
  v_data jsonb := coalesce(op -> 'data', '{}'::jsonb);
  v_changed timestamptz := (op ->> 'changed_at')::timestamptz;
  v_lseq bigint := (op ->> 'ledger_seq')::bigint;
  v_force boolean := coalesce((op ->> 'force')::boolean, false);
  v_ver text;
  v_prior text;
  v_row jsonb;
  v_floor record;
  v_up record;
begin
  if sys is distinct from public.ccm_claim() then
    raise exception using errcode = '42501', message = 'ccm_apply_op: the system does not match the caller''s system_id claim';
  end if;
  if v_op_id is null then
    raise exception using errcode = '22023', message = 'operation has no op_id';
  end if;
  select l.result into v_prior from public.ccm_sync_ledger l where l.system_id = sys and l.op_id = v_op_id;
  if found then
    return jsonb_build_object('op_id', v_op_id, 'status', 'duplicate', 'first_status', v_prior);
  end if;
  perform public.ccm_check_op(op);
  if settled is not null and v_lseq <= settled then
    return public.ccm_refusal(v_op_id::text, v_lseq, settled);
  end if;
  if v_data ->> 'id' = v_rid then
    v_data := v_data - 'id';
  end if;
  v_ver := public.ccm_version(v_changed, (op ->> 'seq')::bigint);
  select t.deleted_at, t.version into v_floor
    from public.ccm_tombstones t where t.system_id = sys and t.table_name = v_table and t.record_id = v_rid;
  execute format('select to_jsonb(t) from public.%I t where t.system_id = $1 and t.id = $2 for update', v_table)
    into v_row using sys, v_rid;
  if upper(op ->> 'operation') = 'DELETE' then
    return public.ccm_apply_delete(sys, op, v_ver, v_floor.version, v_row);
  end if;
  if coalesce(op ->> 'conflict', 'lww') = 'manual' and not v_force and (
       (v_floor.version is not null and v_ver <= v_floor.version)
       or exists (select 1 from jsonb_object_keys(v_data) k
                   where coalesce(public.ccm_version((op -> 'versions' -> k ->> 0)::timestamptz, (op -> 'versions' -> k ->> 1)::bigint), v_ver)
                         <= coalesce(greatest(public.ccm_clock(v_row) ->> k, public.ccm_clock(v_row) ->> '*'), ''))) then
    return jsonb_build_object('op_id', v_op_id, 'status', 'conflict', 'remote', v_row);
  end if;
  if v_force then
    -- A person chose this version: it goes in as newer than anything the record has seen.
    op := (op - 'versions') || jsonb_build_object('changed_at',
            greatest(v_changed, (v_row ->> 'updated_at')::timestamptz + interval '1 microsecond', v_floor.deleted_at + interval '1 microsecond'));
  end if;
  select * into v_up from public.ccm_apply_writes(sys, jsonb_build_array(op || jsonb_build_object('data', v_data, 'conflict', 'lww', 'force', false)), settled);
  if v_up.results ? '1' then
    return v_up.results -> '1';
  elsif cardinality(v_up.claimed) = 1 then
    return jsonb_build_object('op_id', v_op_id, 'status', 'applied');
  end if;
  raise exception using errcode = '22023', message = 'batch_sync could not apply this operation as it stands',
    hint = 'See `ccm-sync failed show` for the operation.';
end
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_merge_writes(ops, positions, rows_now, tombstones, bk) -> setof (i, op_id, rid, data, chg, seq,
--   lseq, vers, src, ver, floor, cur, cur_flat, cur_clock, live)
--   Purpose: the writes at these positions, each with what it competes with: its version (ver),
--            the record's tombstone version (floor), its current row (cur), that row's keys flat
--            (extra's included) and its clock (a null clock: every key with a value has the row's
--            version), and whether it is newer than the tombstone (live).
--   Callers: ccm_merge_rows (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_merge_writes(ops jsonb, positions integer[], rows_now jsonb, tombstones jsonb, bk text[])
returns table (i integer, op_id text, rid text, data jsonb, chg timestamptz, seq bigint, lseq bigint, vers jsonb, src jsonb,
               ver text, floor text, cur jsonb, cur_flat jsonb, cur_clock jsonb, live boolean)
-- (PL/pgSQL, and a plan made once per connection: it reads no table)
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $f$
begin
  return query
  with o as materialized (
    select q.o::int as i, q.op_id, q.rid, q.data, q.chg, q.seq, q.lseq,
           coalesce(q.vers, '{}'::jsonb) as vers, coalesce(q.src, '[]'::jsonb) as src,
           pg_catalog.lpad(greatest(0, pg_catalog.floor(extract(epoch from q.chg) * 1000000))::bigint::text, 17, '0')
             || pg_catalog.lpad(coalesce(q.seq, 9223372036854775807)::text, 19, '0') as ver
      from rows from (jsonb_to_recordset(ops) as (op_id text, record_id text, data jsonb, changed_at timestamptz,
             seq bigint, ledger_seq bigint, versions jsonb, source_ids jsonb))
           with ordinality q(op_id, rid, data, chg, seq, lseq, vers, src, o)
      join unnest(positions) p(i) on p.i = q.o
  ),
  rows as materialized (  -- record -> [row, its keys flat, its clock]
    select coalesce(jsonb_object_agg(x.rid, jsonb_build_array(x.row, x.flat,
             coalesce(nullif(x.row -> 'sync_clock', 'null'::jsonb),
                      (select coalesce(jsonb_object_agg(f.key, x.row ->> 'sync_version'), '{}'::jsonb)
                         from jsonb_each(x.flat) f where f.value <> 'null'::jsonb)))), '{}'::jsonb) as m
      from (select c.key as rid, c.value as row, (c.value - bk) || coalesce(nullif(c.value -> 'extra', 'null'::jsonb), '{}'::jsonb) as flat
              from jsonb_each(rows_now) c) x
  )
  select o.i, o.op_id, o.rid, o.data, o.chg, o.seq, o.lseq, o.vers, o.src, o.ver,
         tombstones ->> o.rid, r.m -> o.rid -> 0, r.m -> o.rid -> 1, r.m -> o.rid -> 2,
         (tombstones ->> o.rid) is null or o.ver > (tombstones ->> o.rid)
    from o, rows r;
end
$f$;

-- ---------------------------------------------------------------------------------------------
-- ccm_merge_rows(sys, ops, positions, cur, tomb, bk, data_cols) -> (fresh, existing, results, stale, sources)
--   Purpose: the merge of one table's remaining writes, in jsonb only (it reads no table, so its
--            plan is made once per connection). Every write competes key by key with the key's
--            current version (its entry in the row's clock, the clock's '*', the tombstone): the
--            newest write of each key wins, and each record's newest live write carries the merged
--            row. An operation none of whose keys beat the record is stale; one that lost a key gets
--            the record as it stands ("remote").
--   Inputs:  ops the batch; positions those to merge; cur {record: row} as the table has them
--            (locked); tomb {record: tombstone version}; bk the bookkeeping columns; data_cols the
--            table's other columns. ccm_merge_writes pairs each write with what it competes with.
--   Returns: fresh (rows to insert, an array), existing ({record: row} to update), results
--            ({"<position>": result}), stale (op_ids whose ledger entry says stale), sources
--            ([op_id, record, status, position] of the hook events packaged summaries stand for).
--   Callers: ccm_apply_table (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_merge_rows(sys text, ops jsonb, positions integer[], cur jsonb, tomb jsonb, bk text[], data_cols text[],
    out fresh jsonb, out existing jsonb, out results jsonb, out stale uuid[], out sources jsonb)
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $f$
begin
  with op as materialized (select * from public.ccm_merge_writes(ops, positions, cur, tomb, bk)),
  keys as materialized (  -- each key each live write writes, at its version, against the key's current version
    select k.*, first_value(k.i) over (partition by k.rid, k.key order by k.ver collate "C" desc, k.i desc) as winner
      from (select op.i, op.rid, e.key, e.value,
                   case when op.vers ? e.key then public.ccm_version((op.vers -> e.key ->> 0)::timestamptz, (op.vers -> e.key ->> 1)::bigint)
                        else op.ver end as ver,
                   coalesce(greatest(op.cur_clock ->> e.key, op.cur_clock ->> '*', op.floor), '') as prior
              from op cross join lateral jsonb_each(op.data) e
             where op.live) k
  ),
  verdicts as materialized (  -- position -> [a key beat the record, a key lost]; record -> [the values that won, their versions]
    select (select coalesce(jsonb_object_agg(v.i, jsonb_build_array(v.newer, v.lost)), '{}'::jsonb)
              from (select k.i, bool_or(k.ver > k.prior) as newer, bool_or(not (k.winner = k.i and k.ver > k.prior)) as lost
                      from keys k group by k.i) v) as ops,
           (select coalesce(jsonb_object_agg(v.rid, jsonb_build_array(v.vals, v.vers)), '{}'::jsonb)
              from (select k.rid, jsonb_object_agg(k.key, k.value) as vals, jsonb_object_agg(k.key, k.ver) as vers
                      from keys k where k.winner = k.i and k.ver > k.prior group by k.rid) v) as recs
  ),
  built as materialized (  -- per record, its newest live write with every key that won (jsonb_populate_record takes the columns)
    select m.rid, m.fresh,
           m.flat || jsonb_build_object(
                'system_id', sys, 'id', m.rid,
                'extra', nullif(m.flat - data_cols, '{}'::jsonb),
                'updated_at', greatest(m.chg, (m.cur ->> 'updated_at')::timestamptz),
                'sync_version', case when m.newest then to_jsonb(m.ver) else m.cur -> 'sync_version' end,
                'sync_seq', case when m.newest then to_jsonb(m.seq) else m.cur -> 'sync_seq' end,
                'sync_op_id', case when m.newest then to_jsonb(m.op_id) else m.cur -> 'sync_op_id' end,
                'sync_clock', m.clock) as row
      from (select t.rid, t.cur is null as fresh, t.ver > coalesce(t.cur ->> 'sync_version', '') as newest, t.ver, t.chg, t.seq, t.op_id, t.cur,
                   coalesce(t.cur_flat, '{}'::jsonb) || coalesce(v.recs -> t.rid -> 0, '{}'::jsonb) as flat,
                   coalesce(t.cur_clock, '{}'::jsonb) || coalesce(v.recs -> t.rid -> 1, '{}'::jsonb) as clock
              from (select distinct on (op.rid collate "C") op.* from op where op.live order by op.rid collate "C", op.ver collate "C" desc) t,
                   verdicts v) m
  ),
  built_rows as materialized (select jsonb_object_agg(b.rid, b.row) as rows from built b),
  outcome as materialized (
    select op.i, op.op_id, op.rid, op.lseq, op.src,
           case when op.live and (op.cur is null or coalesce((v.ops -> op.i::text ->> 0)::boolean, false)) then 'applied' else 'stale' end as status,
           not op.live or coalesce((v.ops -> op.i::text ->> 1)::boolean, false) as shows_remote,
           -- the record as it stands: its columns (the keys that name none are in extra)
           case when not op.live or coalesce((v.ops -> op.i::text ->> 1)::boolean, false)
                then coalesce((select jsonb_object_agg(f.key, f.value) from jsonb_each(b.rows -> op.rid) f
                                where f.key = any (bk) or f.key = any (data_cols)), op.cur) end as remote
      from op, verdicts v, built_rows b
  )
  select coalesce((select jsonb_agg(b.row) from built b where b.fresh), '[]'::jsonb),
         coalesce((select jsonb_object_agg(b.rid, b.row) from built b where not b.fresh), '{}'::jsonb),
         coalesce((select jsonb_object_agg(x.i, jsonb_build_object('op_id', x.op_id, 'status', x.status)
                           || case when x.shows_remote then jsonb_build_object('remote', x.remote) else '{}'::jsonb end) from outcome x), '{}'::jsonb),
         coalesce((select array_agg(x.op_id::uuid) from outcome x where x.status = 'stale'), '{}'),
         coalesce((select jsonb_agg(jsonb_build_array(y, x.rid, x.status, x.lseq)) from outcome x cross join lateral jsonb_array_elements_text(x.src) y), '[]'::jsonb)
    into fresh, existing, results, stale, sources;
end
$f$;

-- Ownership and rights: every function here is the owner's, and no client calls any but batch_sync
-- and ccm_sync_info (whose grants a create or replace keeps).
do $$
declare
  f text;
begin
  foreach f in array array['ccm_new_rows_sql()', 'ccm_new_rows_sql_for(text, text[], boolean, text)', 'ccm_new_rows_function(text, text[])',
                           'ccm_make_writers(text)', 'ccm_apply_table(text, text, jsonb, bigint)', 'ccm_apply_writes(text, jsonb, bigint)',
                           'ccm_answers(jsonb, jsonb, boolean)', 'ccm_check_in(text, jsonb, boolean)', 'ccm_check_op(jsonb)',
                           'ccm_apply_op(text, jsonb, bigint)', 'ccm_merge_writes(jsonb, integer[], jsonb, jsonb, text[])',
                           'ccm_merge_rows(text, jsonb, integer[], jsonb, jsonb, text[], text[])'] loop
    execute format('alter function public.%s owner to ccm_sync_owner', f);
    execute format('revoke all on function public.%s from public, anon, authenticated, service_role', f);
  end loop;
end
$$;

-- Each synced table's insert function (see ccm_make_writers). A later migration that adds a column
-- calls ccm_make_writers for its table again.
select public.ccm_make_writers(t.name) from public.ccm_sync_tables t;

-- What each function is for, where supabase/schema.sql (and \df+ in psql) shows it.
comment on function public.batch_sync(jsonb) is
  'One batch of one system''s operations, applied in one transaction, each once. Takes {system_id, operations, settled_through?, prune_ledger?, heartbeat?, answers?}; returns one result per operation (applied, stale, duplicate, conflict, rejected), or with answers = compact {applied: n, results: {position: result}} for those not simply applied. Called by a system''s token (authenticated) or the secret key (service_role); refuses a batch for another system than the JWT names.';
comment on function public.ccm_sync_info() is 'The schema the remote speaks ({"schema": 5}: compact answers); the client refuses one older than it needs. Any role.';
comment on function public.ccm_new_rows_sql() is
  'Template of the first statement for a table: parse its operations, insert their ledger entries (plainly, or skipping op_ids held already), probe the tombstones record by record, insert the new records. Returns the claimed positions and those left to merge. Rendered by ccm_new_rows_sql_for. Owner only.';
comment on function public.ccm_new_rows_sql_for(text, text[], boolean, text) is
  'ccm_new_rows_sql rendered for a table with these columns, for operations new to the ledger or for a batch with repeats, with the INTO given. Owner only.';
comment on function public.ccm_new_rows_function(text, text[]) is
  'The name of the generated function for a table with these columns: ccm_new_rows_<table>_<hash of the columns>. Owner only.';
comment on function public.ccm_make_writers(text) is
  'Generates a table''s ccm_new_rows_<table>_<hash> function (for 50 operations or more the plain ledger insert first, and the statement that skips op_ids held already when the ledger''s key refuses one; plans made once per connection, generic, enable_seqscan off) and ccm_new_rows, which calls it. Migrations call it for every synced table and again after adding a column. Owner only.';
comment on function public.ccm_bookkeeping() is
  'The columns ccm-sync maintains on every synced table (an operation may not write them): the one list the functions take them from. Any role (ccm_clock, which any role may call, reads it).';
comment on function public.ccm_clock(jsonb) is
  'A row''s version per column: its sync_clock, or, when that is null, sync_version for every column with a value. Any role.';
comment on function public.ccm_new_rows(text, text, jsonb, bigint, text[], text[], text[]) is
  'Runs a table''s first statement through the function ccm_make_writers generated for its columns as they are (a branch per function, no lookup), or the statement itself when there is none. Returns the claimed positions and those left to merge. Owner only (ccm_apply_table).';
comment on function public.ccm_columns(text) is
  'A synced table''s columns, in order. Owner only.';
comment on function public.ccm_apply_table(text, text, jsonb, bigint) is
  'The operations of one table: the first statement (ccm_new_rows_sql), then for the records that exist the read (ccm_read_sql), merge (ccm_merge_rows) and write (ccm_write_sql). Returns the positions it claimed and the results of those merged; raises 40001 when a record was created directly meanwhile. Owner only (ccm_apply_writes).';
comment on function public.ccm_apply_writes(text, jsonb, bigint) is
  'The fast path for up to 500 operations: ccm_apply_table per table, then ccm_known_results. Returns the claimed positions and the results of all but those simply applied; a position in neither is ccm_apply_op''s. Owner only (batch_sync, ccm_apply_op).';
comment on function public.ccm_answers(jsonb, jsonb, boolean) is
  'The answer to a batch: compact ({applied, results}) or one result per operation, in order. Owner only (batch_sync).';
comment on function public.ccm_check_in(text, jsonb, boolean) is
  'Keeps what a batch says about its system (watermark, heartbeat, last seen), and prunes its ledger at the watermark when asked. Returns the watermark. Owner only (batch_sync).';
comment on function public.ccm_check_op(jsonb) is
  'Raises 22023 for an operation batch_sync cannot apply as it stands (table, operation, record_id, changed_at, data, versions, bookkeeping keys). Owner only (ccm_apply_op).';
comment on function public.ccm_apply_op(text, jsonb, bigint) is
  'One operation the fast path left: a DELETE (tombstone), a manual-review or forced write, or a malformed one (raises, and the caller rejects it). Returns its result. Owner only (ccm_apply_isolated).';
comment on function public.ccm_merge_writes(jsonb, integer[], jsonb, jsonb, text[]) is
  'The writes a merge competes: each with its version, the record''s tombstone version, current row, flat keys and clock, and whether it is newer than the tombstone. Owner only (ccm_merge_rows).';
comment on function public.ccm_merge_rows(text, jsonb, integer[], jsonb, jsonb, text[], text[]) is
  'The merge of a table''s remaining writes in jsonb (it reads no table, so its plan is made once per connection): column by column, last write wins, against the rows'' clocks and the tombstones. Returns the rows to insert and update, the results, the stale op_ids and the sources. Owner only (ccm_apply_table).';
