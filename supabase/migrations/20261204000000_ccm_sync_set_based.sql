-- batch_sync, set-based (schema 4: the contract does not change, only how the remote keeps it).
--
-- Before, ccm_apply_upserts parsed a batch into eleven arrays, probed the ledger once per
-- operation, rebuilt its result array after every table, and merged rows that already existed
-- with a plan that re-read every current row once per operation (a 400-update batch took 1.4 s).
-- Now each table of a batch takes one statement, and four when some of its records exist already:
--   1. ccm_insert_sql: parse the table's operations, insert their ledger entries (ON CONFLICT DO
--      NOTHING: an operation the ledger holds does not come back, so probe and insert are one),
--      and insert the records that are new as they are.
--   2. only for the rest: read the current rows and tombstones by key (ccm_read_sql), merge
--      column by column in jsonb (ccm_merge_rows: last write wins), and write the rows, the stale
--      marks and the packaged summaries' sources in one statement (ccm_write_sql).
-- Then one statement answers the operations that were not claimed (duplicates, refusals:
-- ccm_known_results), and batch_sync leaves what the fast path cannot take (a DELETE, a
-- manual-review or forced write, a malformed operation) to ccm_apply_op, one at a time, as before
-- (ccm_apply_isolated). Every guarantee stays: per-column last-write-wins with direct edits and
-- tombstones, the ledger keyed by (system_id, op_id) with the watermark, the claim check, definer
-- rights, one result per operation. supabase/schema.sql shows the functions as they stand.
--
-- Plans: a statement that reads a table other than by its full primary key is planned at each
-- call (EXECUTE); a plan cached while a table was small would read it by system_id alone once it
-- is large (test/spine-postgres.test.ts holds this). The insert statement and the merge keep
-- their plans per connection: the insert reads only the tombstones, by primary key, and the merge
-- reads no table at all. Lookups between steps go through jsonb maps keyed by record or position,
-- not joins, so no plan can make a 500-operation batch cost 500 x 500.

-- ---------------------------------------------------------------------------------------------
-- ccm_bookkeeping() -> text[]; ccm_columns(tbl) -> text[]
--   Purpose: the columns ccm-sync maintains itself on every synced table (an operation may not
--            write them), and a synced table's columns in order: the one definition the functions
--            below take them from.
--   Callers: the functions of this file (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_bookkeeping() returns text[]
language sql immutable set search_path = '' as $$
  select array['system_id', 'id', 'extra', 'updated_at', 'sync_seq', 'sync_op_id', 'sync_version', 'sync_clock']
$$;

create or replace function public.ccm_columns(tbl text) returns text[]
language sql stable set search_path = '' as $$
  select array(select a.attname::text from pg_catalog.pg_attribute a
                where a.attrelid = format('public.%I', tbl)::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum)
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_insert_sql() -> text
--   Purpose: the first statement for one table, as a format() template: %1$s the table, %2$s its
--            data columns, %3$s the same as r.<column>. Parameters: $1 system, $2 table,
--            $3 operations, $4 settled watermark, $5 bookkeeping columns, $6 data columns.
--            It takes the operations the fast path can: INSERT or UPDATE, last-write-wins, well
--            formed, above the watermark.
--   Returns: one row: claimed (positions whose ledger entry it inserted), merge (those of them
--            still to merge: the record exists, has a tombstone, is written twice in the batch or
--            per key), results (an array: "applied" for each other claimed position, in order).
--   Callers: ccm_write_table (owner only).
-- ---------------------------------------------------------------------------------------------
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
tombs as materialized (
  select coalesce(jsonb_object_agg(t.record_id, true), '{}'::jsonb) as ids from public.ccm_tombstones t
   where t.system_id = $1 and t.table_name = $2 and t.record_id = any (array(select o.rid from o))
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

-- ---------------------------------------------------------------------------------------------
-- ccm_known_results(sys, ops, claimed, settled) -> jsonb
--   Purpose: the results of operations no table claimed that are known without writing: a repeat
--            of an operation the ledger holds (duplicate, with its first outcome) and one at or
--            below the watermark (refused, see ccm_refusal).
--   Returns: {"<position>": result}; the positions it leaves out are the slow path's.
--   Callers: ccm_apply_upserts (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_known_results(sys text, ops jsonb, claimed integer[], settled bigint) returns jsonb
language sql stable security definer set search_path = '' as $$
  with rest as (
    select q.o::int as i, q.op_id, q.ledger_seq
      from rows from (jsonb_to_recordset(ops) as (op_id text, ledger_seq bigint)) with ordinality q(op_id, ledger_seq, o)
     where not (q.o::int = any (claimed))
       and q.op_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
  )
  select coalesce(jsonb_object_agg(k.i, k.res), '{}'::jsonb)
    from (select r.i, coalesce(
                   (select jsonb_build_object('op_id', r.op_id, 'status', 'duplicate', 'first_status', l.result)
                      from public.ccm_sync_ledger l where l.system_id = sys and l.op_id = r.op_id::uuid),
                   case when r.ledger_seq <= settled then public.ccm_refusal(r.op_id, r.ledger_seq, settled) end) as res
            from rest r) k
   where k.res is not null
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_merge_rows(sys, ops, positions, cur, tomb, bk, data_cols) -> (fresh, existing, results, stale, sources)
--   Purpose: the merge of one table's remaining writes, in jsonb only (it reads no table, so its
--            cached plan cannot go stale as the tables grow). Every write competes key by key with
--            the key's current version (its entry in the row's clock, the clock's '*', the
--            tombstone): the newest write of each key wins, and each record's newest live write
--            carries the merged row. An operation none of whose keys beat the record is stale; one
--            that lost a key gets the record as it stands ("remote").
--   Inputs:  ops the batch; positions those to merge; cur {record: row} as the table has them
--            (locked); tomb {record: tombstone version}; bk the bookkeeping columns; data_cols the
--            table's other columns. Lookups between the steps go through jsonb maps, not joins.
--   Returns: fresh (rows to insert, an array), existing ({record: row} to update), results
--            ({"<position>": result}), stale (op_ids whose ledger entry says stale), sources
--            ([op_id, record, status, position] of the hook events packaged summaries stand for).
--   Callers: ccm_write_table (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_merge_rows(sys text, ops jsonb, positions integer[], cur jsonb, tomb jsonb, bk text[], data_cols text[],
    out fresh jsonb, out existing jsonb, out results jsonb, out stale uuid[], out sources jsonb)
language plpgsql stable set search_path = '' as $f$
begin
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
  rows as materialized (  -- record -> [row, its keys flat, its clock]; a null clock: every key with a value has the row's version
    select coalesce(jsonb_object_agg(x.rid, jsonb_build_array(x.row, x.flat,
             coalesce(nullif(x.row -> 'sync_clock', 'null'::jsonb),
                      (select coalesce(jsonb_object_agg(f.key, x.row ->> 'sync_version'), '{}'::jsonb)
                         from jsonb_each(x.flat) f where f.value <> 'null'::jsonb)))), '{}'::jsonb) as m
      from (select c.key as rid, c.value as row, (c.value - bk) || coalesce(nullif(c.value -> 'extra', 'null'::jsonb), '{}'::jsonb) as flat
              from jsonb_each(cur) c) x
  ),
  op as materialized (  -- every write with what it competes with
    select o.*, tomb ->> o.rid as floor, r.m -> o.rid -> 0 as cur, r.m -> o.rid -> 1 as cur_flat, r.m -> o.rid -> 2 as cur_clock,
           (tomb ->> o.rid) is null or o.ver > (tomb ->> o.rid) as live
      from o, rows r
  ),
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

-- ---------------------------------------------------------------------------------------------
-- ccm_read_sql() -> text; ccm_write_sql() -> text
--   Purpose: the two statements around ccm_merge_rows, as format() templates (%1$s the table;
--            for the write, %2$s/%3$s every column plain and as r.<column>, %4$s/%5$s every column
--            but the key). Small, and planned at each call (EXECUTE): they read and write the
--            table and the ledger by key, and a plan cached while those were small would read
--            them by system_id alone once they are large.
--            read:  $1 system, $2 records, $3 table -> cur ({record: row}, the rows locked), tomb.
--            write: $1 fresh rows, $2 {record: row} to update, $3 system, $4 stale op_ids,
--                   $5 table, $6 sources -> whether every fresh row went in (else a record was
--                   created directly meanwhile).
--   Callers: ccm_write_table (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_read_sql() returns text
language sql immutable set search_path = '' as $q$ select $sql$
with c as (select t.id, to_jsonb(t) as row from public.%1$I t where t.system_id = $1 and t.id = any ($2) for update)
select (select coalesce(jsonb_object_agg(c.id, c.row), '{}'::jsonb) from c) as cur,
       (select coalesce(jsonb_object_agg(x.record_id, x.version), '{}'::jsonb) from public.ccm_tombstones x
         where x.system_id = $1 and x.table_name = $3 and x.record_id = any ($2)) as tomb
$sql$ $q$;

create or replace function public.ccm_write_sql() returns text
language sql immutable set search_path = '' as $q$ select $sql$
with created as (
  insert into public.%1$I as t (%2$s)
  select %3$s from jsonb_array_elements($1) b(row), jsonb_populate_record(null::public.%1$I, b.row) r
  on conflict (system_id, id) do nothing
  returning 1
),
updated as (
  update public.%1$I as t set (%4$s) = (select %5$s from jsonb_populate_record(null::public.%1$I, $2 -> t.id) r)
   where t.system_id = $3 and t.id = any (array(select jsonb_object_keys($2)))
),
marked as (
  update public.ccm_sync_ledger l set result = 'stale' where l.system_id = $3 and l.op_id = any ($4)
),
sources as (  -- the hook events a packaged summary stands for
  insert into public.ccm_sync_ledger (system_id, op_id, table_name, record_id, result, ledger_seq)
  select $3, (s ->> 0)::uuid, $5, s ->> 1, s ->> 2, (s ->> 3)::bigint from jsonb_array_elements($6) s
  on conflict (system_id, op_id) do nothing
)
select (select count(*) from created) = jsonb_array_length($1) as complete
$sql$ $q$;

-- ---------------------------------------------------------------------------------------------
-- ccm_writer_sql(tbl, cols) -> text; ccm_writer_name(tbl, cols) -> text; ccm_make_writers(tbl) -> void
--   Purpose: ccm_insert_sql rendered for one table, and the function that runs it (made by the
--            migrations for each synced table): a function parses its statement once per
--            connection and keeps its plan (its only read of a table is the tombstones by primary
--            key), where an EXECUTE would parse ~5 KB of SQL and plan it at every batch. Its name
--            carries a hash of the table's columns: after a column is added, ccm_write_table finds
--            none of that name and runs the statement itself (correct, only slower) until a
--            migration calls ccm_make_writers for the table again.
--   Callers: ccm_write_table; ccm_make_writers from migrations (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_writer_sql(tbl text, cols text[]) returns text
language sql stable set search_path = '' as $$
  with c as (
    select array(select x from unnest(cols) x
                  where x <> all (public.ccm_bookkeeping())) as data
  )
  select format(public.ccm_insert_sql(), tbl,
           (select string_agg(format('%I', x), ', ') from unnest(c.data) x), (select string_agg(format('r.%I', x), ', ') from unnest(c.data) x))
    from c
$$;

create or replace function public.ccm_writer_name(tbl text, cols text[]) returns text
language sql immutable set search_path = '' as $$
  select format('ccm_insert_%s_%s', tbl, left(md5(array_to_string(cols, ',')), 8))
$$;

create or replace function public.ccm_make_writers(tbl text) returns void
language plpgsql volatile security definer set search_path = '' as $f$
declare
  v_cols text[] := public.ccm_columns(tbl);
  v_sig text := format('public.%I(text, text, jsonb, bigint, text[], text[])', public.ccm_writer_name(tbl, v_cols));
begin
  execute format('create or replace function %s returns table (claimed integer[], merge integer[], results jsonb) '
                 'language plpgsql volatile security definer set search_path = '''' as %L',
                 replace(v_sig, '(text, text, jsonb, bigint, text[], text[])', '(sys text, tbl text, ops jsonb, settled bigint, bk text[], data_cols text[])'),
                 'begin return query ' || public.ccm_writer_sql(tbl, v_cols) || '; end');
  execute format('alter function %s owner to ccm_sync_owner', v_sig);
  execute format('revoke all on function %s from public, anon, authenticated, service_role', v_sig);
end
$f$;

-- ---------------------------------------------------------------------------------------------
-- ccm_write_table(sys, tbl, ops, settled) -> (claimed, applied, merged)
--   Purpose: the operations of one table: the insert statement (ccm_insert_sql, through the
--            table's function if the migrations made one for its columns as they are), then, for
--            what it left, the rows read (ccm_read_sql), merged (ccm_merge_rows) and written
--            (ccm_write_sql).
--   Returns: claimed (the positions taken), applied (the results of the claimed positions that are
--            not in merged, in order: an array, so that a batch of new records needs no map),
--            merged ({"<position>": result} for the merged ones).
--   Raises:  40001 when a record was created directly while the batch ran (the client retries).
--   Callers: ccm_apply_upserts (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_write_table(sys text, tbl text, ops jsonb, settled bigint,
    out claimed integer[], out applied jsonb, out merged jsonb)
-- (enable_seqscan off: every read and write here is by key, and statistics older than the table's
-- size must not make a scan of the whole table look cheaper)
language plpgsql volatile security definer set search_path = '' set enable_seqscan = off as $f$
declare
  v_bk constant text[] := public.ccm_bookkeeping();
  v_cols text[] := public.ccm_columns(tbl);
  v_data text[] := array(select c from unnest(v_cols) c where not (c = any (v_bk)));
  v_fn text := public.ccm_writer_name(tbl, v_cols);
  v_new record;
  v_read record;
  v_m record;
  v_complete boolean;
begin
  execute case when pg_catalog.to_regprocedure(format('public.%I(text, text, jsonb, bigint, text[], text[])', v_fn)) is not null
               then format('select * from public.%I($1, $2, $3, $4, $5, $6)', v_fn)
               else public.ccm_writer_sql(tbl, v_cols) end
    into v_new using sys, tbl, ops, settled, v_bk, v_data;
  claimed := v_new.claimed;
  applied := v_new.results;
  merged := '{}';
  if cardinality(v_new.merge) = 0 then
    return;
  end if;
  execute format(public.ccm_read_sql(), tbl) into v_read
    using sys, array(select distinct ops -> (p - 1) ->> 'record_id' from unnest(v_new.merge) p), tbl;
  select * into v_m from public.ccm_merge_rows(sys, ops, v_new.merge, v_read.cur, v_read.tomb, v_bk, v_data);
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
-- ccm_apply_upserts(sys, ops, settled) -> jsonb
--   Purpose: the fast path for up to 500 operations: ccm_write_table for each table they name,
--            then ccm_known_results for the operations no table claimed.
--   Returns: one entry per operation, in order: its result, or null where the operation is left
--            to ccm_apply_op (a DELETE, a manual-review or forced write, a malformed operation).
--   Callers: batch_sync and ccm_apply_op (owner only); the system must be the caller's claim.
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_apply_upserts(sys text, ops jsonb, settled bigint) returns jsonb
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_n integer := jsonb_array_length(ops);
  v_claimed integer[] := '{}';
  v_done jsonb := '{}';  -- position -> result
  v_table record;
  v_w record;
begin
  if sys is distinct from public.ccm_claim() then
    raise exception using errcode = '42501', message = 'ccm_apply_upserts: the system does not match the caller''s system_id claim';
  end if;
  for v_table in
    select t.name from public.ccm_sync_tables t where t.name in (select e ->> 'table' from jsonb_array_elements(ops) e) order by t.name
  loop
    select * into v_w from public.ccm_write_table(sys, v_table.name, ops, settled);
    if cardinality(v_w.claimed) = v_n and v_w.merged = '{}'::jsonb then
      return v_w.applied;  -- the whole batch, one table, every record new: the answers as they are
    end if;
    v_claimed := v_claimed || v_w.claimed;
    -- position -> result: the merged ones, and the applied ones paired with their positions
    v_done := v_done || v_w.merged || coalesce((
      select jsonb_object_agg(p.i, e.r)
        from unnest(array(select c from unnest(v_w.claimed) c where not v_w.merged ? c::text)) with ordinality p(i, k)
        join jsonb_array_elements(v_w.applied) with ordinality e(r, k) on e.k = p.k), '{}'::jsonb);
  end loop;
  if cardinality(v_claimed) < v_n then
    v_done := v_done || public.ccm_known_results(sys, ops, v_claimed, settled);
  end if;
  -- one entry per operation, in order (JSON null where the slow path is to answer)
  return coalesce((select jsonb_agg(v_done -> g.i::text order by g.i) from generate_series(1, v_n) g(i)), '[]'::jsonb);
end
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_apply_delete(sys, op, ver, floor_version, cur_row) -> jsonb
--   Purpose: a checked DELETE at version ver, against the record's tombstone version and current
--            row: stale when the tombstone is newer; conflict for a manual-review table whose row
--            is as new; otherwise the row goes (or, when newer writes hold some columns, only the
--            older columns are cleared), the tombstone moves to ver, and the ledger records it.
--   Callers: ccm_apply_op (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_apply_delete(sys text, op jsonb, ver text, floor_version text, cur_row jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_bk constant text[] := public.ccm_bookkeeping();
  v_op_id uuid := (op ->> 'op_id')::uuid;
  v_table text := op ->> 'table';
  v_rid text := op ->> 'record_id';
  v_changed timestamptz := (op ->> 'changed_at')::timestamptz;
  v_seq bigint := (op ->> 'seq')::bigint;
  v_lseq bigint := (op ->> 'ledger_seq')::bigint;
  v_manual boolean := coalesce(op ->> 'conflict', 'lww') = 'manual';
  v_force boolean := coalesce((op ->> 'force')::boolean, false);
  v_row jsonb := cur_row;
  v_status text;
  v_flat jsonb;
  v_cleared text[];
begin
  -- A delete at ver: clears every column older than it, removes the row when no write to it is
  -- newer, and leaves a tombstone at ver (the floor every older write loses to).
  if floor_version is not null and ver <= floor_version and not v_force then
    v_status := 'stale';
  elsif v_row is null then
    v_status := 'applied';
  elsif v_manual and not v_force and v_row ->> 'sync_version' >= ver then
    return jsonb_build_object('op_id', v_op_id, 'status', 'conflict', 'remote', v_row);
  elsif v_force or coalesce(v_row ->> 'sync_version', '') < ver then
    execute format('delete from public.%I t where t.system_id = $1 and t.id = $2', v_table) using sys, v_rid;
    v_status := 'applied';
  else
    -- Newer writes to some columns keep the row: clear the columns older than the delete (the
    -- tombstone written below is their version from now on).
    v_flat := (v_row - v_bk) || coalesce(nullif(v_row -> 'extra', 'null'::jsonb), '{}'::jsonb);
    select coalesce(array_agg(f.key), '{}') into v_cleared from jsonb_each(v_flat) f
     where f.value <> 'null'::jsonb
       and coalesce(greatest(public.ccm_clock(v_row) ->> f.key, public.ccm_clock(v_row) ->> '*'), '') < ver;
    v_row := v_row
      || jsonb_build_object('extra', nullif(coalesce(nullif(v_row -> 'extra', 'null'::jsonb), '{}'::jsonb) - v_cleared, '{}'::jsonb))
      || coalesce((select jsonb_object_agg(k, null) from unnest(v_cleared) k where v_row ? k), '{}'::jsonb);
    perform public.ccm_write_rows(v_table, '{}', array[v_row]);
    v_status := 'applied';
  end if;
  if v_status = 'applied' then
    insert into public.ccm_tombstones as t (system_id, table_name, record_id, deleted_at, sync_seq, version)
    values (sys, v_table, v_rid, v_changed, v_seq, ver)
    on conflict (system_id, table_name, record_id) do update
      set deleted_at = excluded.deleted_at, sync_seq = excluded.sync_seq, version = excluded.version
      where t.version is null or t.version < excluded.version;
  end if;
  insert into public.ccm_sync_ledger (system_id, op_id, table_name, record_id, result, ledger_seq)
  select sys, s.id, v_table, v_rid, v_status, v_lseq
    from (select v_op_id as id
          union
          select x::uuid from jsonb_array_elements_text(coalesce(op -> 'source_ids', '[]'::jsonb)) x) s
  on conflict (system_id, op_id) do nothing;
  if v_status = 'stale' then
    return jsonb_build_object('op_id', v_op_id, 'status', 'stale', 'remote', v_row);
  end if;
  return jsonb_build_object('op_id', v_op_id, 'status', v_status);
end
$$;


-- ---------------------------------------------------------------------------------------------
-- ccm_apply_op(sys, op, settled) -> jsonb
--   Purpose: one operation the fast path left: it checks the operation (raising for a malformed
--            one, which ccm_apply_isolated rejects alone), answers a duplicate or a refusal, holds a
--            manual-review write that loses for review (conflict), and applies an INSERT or UPDATE
--            through ccm_apply_upserts or a DELETE through ccm_apply_delete.
--   Callers: ccm_apply_isolated (owner only). Unchanged but for the DELETE moved out.
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_apply_op(sys text, op jsonb, settled bigint) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_bk constant text[] := public.ccm_bookkeeping();
  v_op_id uuid := (op ->> 'op_id')::uuid;
  v_table text := op ->> 'table';
  v_kind text := upper(coalesce(op ->> 'operation', ''));
  v_rid text := op ->> 'record_id';
  v_data jsonb := coalesce(op -> 'data', '{}'::jsonb);
  v_changed timestamptz := (op ->> 'changed_at')::timestamptz;
  v_seq bigint := (op ->> 'seq')::bigint;
  v_lseq bigint := (op ->> 'ledger_seq')::bigint;
  v_manual boolean := coalesce(op ->> 'conflict', 'lww') = 'manual';
  v_force boolean := coalesce((op ->> 'force')::boolean, false);
  v_ver text;
  v_prior text;
  v_row jsonb;
  v_floor record;
  v_bad text[];
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
  if not exists (select 1 from public.ccm_sync_tables t where t.name = v_table) then
    raise exception using errcode = '22023', message = format('table %L is not synced by ccm-sync', v_table),
      hint = 'See `ccm-sync tables` for the synced tables.';
  end if;
  if v_kind not in ('INSERT', 'UPDATE', 'DELETE') then
    raise exception using errcode = '22023', message = format('unknown operation %L', v_kind);
  end if;
  if coalesce(v_rid, '') = '' then
    raise exception using errcode = '22023', message = 'operation has no record_id';
  end if;
  if v_changed is null then
    raise exception using errcode = '22023', message = 'operation has no changed_at';
  end if;
  if jsonb_typeof(v_data) <> 'object' then
    raise exception using errcode = '22023', message = 'operation data must be a JSON object';
  end if;
  if settled is not null and v_lseq <= settled then
    return public.ccm_refusal(v_op_id::text, v_lseq, settled);
  end if;
  if v_data ->> 'id' = v_rid then
    v_data := v_data - 'id';
  end if;
  select array_agg(k) into v_bad from jsonb_object_keys(v_data) k where k = any (v_bk);
  if v_bad is not null then
    raise exception using errcode = '22023',
      message = format('record_data holds %s, which ccm-sync maintains itself', array_to_string(v_bad, ', ')),
      hint = 'Remove them; a change time goes in changed_at.';
  end if;
  v_ver := public.ccm_version(v_changed, v_seq);
  select t.deleted_at, t.version into v_floor
    from public.ccm_tombstones t where t.system_id = sys and t.table_name = v_table and t.record_id = v_rid;
  execute format('select to_jsonb(t) from public.%I t where t.system_id = $1 and t.id = $2 for update', v_table)
    into v_row using sys, v_rid;

  if v_kind <> 'DELETE' then
    if v_manual and not v_force and (
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
    return public.ccm_apply_upserts(sys, jsonb_build_array(op || jsonb_build_object('data', v_data, 'conflict', 'lww', 'force', false)), settled) -> 0;
  end if;
  return public.ccm_apply_delete(sys, op, v_ver, v_floor.version, v_row);
end
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_apply_isolated(sys, ops, positions, settled) -> jsonb
--   Purpose: the slow path: the operations at these positions one at a time through ccm_apply_op,
--            50 to a subtransaction; when one of them fails, that chunk again one per
--            subtransaction, so a bad operation is rejected alone with its SQLSTATE and message.
--            A transient failure (ccm_is_transient) fails the call, so the client retries it.
--   Returns: {"<position>": result} for every position given.
--   Callers: batch_sync (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_apply_isolated(sys text, ops jsonb, positions integer[], settled bigint) returns jsonb
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_out jsonb := '{}';
  v_part jsonb;
  v_chunk integer[];
  v_k integer;
  v_i integer := 0;
  v_state text;
  v_msg text;
begin
  while v_i < cardinality(positions) loop
    v_chunk := positions[v_i + 1 : v_i + 50];
    begin
      v_part := '{}';
      foreach v_k in array v_chunk loop
        v_part := v_part || jsonb_build_object(v_k::text, public.ccm_apply_op(sys, ops -> (v_k - 1), settled));
      end loop;
    exception when others then
      if public.ccm_is_transient(sqlstate) then
        raise;
      end if;
      v_part := '{}';
      foreach v_k in array v_chunk loop
        begin
          v_part := v_part || jsonb_build_object(v_k::text, public.ccm_apply_op(sys, ops -> (v_k - 1), settled));
        exception when others then
          get stacked diagnostics v_state = returned_sqlstate, v_msg = message_text;
          if public.ccm_is_transient(v_state) then
            raise;
          end if;
          v_part := v_part || jsonb_build_object(v_k::text,
            jsonb_build_object('op_id', ops -> (v_k - 1) ->> 'op_id', 'status', 'rejected', 'sqlstate', v_state, 'message', v_msg));
        end;
      end loop;
    end;
    v_out := v_out || v_part;
    v_i := v_i + 50;
  end loop;
  return v_out;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- batch_sync(batch) -> jsonb
--   Purpose: one batch of one system's operations, applied in one transaction, each once.
--   Inputs:  {"system_id", "operations": [...], "settled_through"?, "prune_ledger"?, "heartbeat"?}
--            (src/remote/transport.ts builds it; src/workers/upload.ts splits the batches).
--   Returns: one result per operation, in order: applied, stale (with "remote"), duplicate (with
--            "first_status"), conflict (manual review, with "remote") or rejected (SQLSTATE,
--            message; CCM01 at or below the watermark).
--   Callers: authenticated (a system's token) and service_role; it refuses a batch for another
--            system than the caller's JWT names. Security definer: the caller needs no table rights.
-- ---------------------------------------------------------------------------------------------
create or replace function public.batch_sync(batch jsonb) returns jsonb
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_claim text := public.ccm_claim();
  v_sys text := batch ->> 'system_id';
  v_ops jsonb := coalesce(batch -> 'operations', '[]'::jsonb);
  v_reported bigint := (batch ->> 'settled_through')::bigint;
  v_settled bigint;
  v_pruned bigint;
  v_n integer;
  v_res jsonb := '[]';  -- one entry per operation; JSON null until answered
  v_rest integer[];
  v_slow jsonb;
  v_i integer := 0;
begin
  if v_claim is null then
    raise exception using errcode = '42501',
      message = 'batch_sync: the caller''s JWT has no system_id claim',
      hint = 'Give each system a JWT with a system_id claim (see `ccm-sync remote token`).';
  end if;
  if v_sys is distinct from v_claim then
    raise exception using errcode = '42501',
      message = format('batch_sync: batch is for system %L but the caller''s JWT is for system %L', v_sys, v_claim);
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('ccm-sync batch_sync'), pg_catalog.hashtext(v_claim));
  if jsonb_typeof(v_ops) <> 'array' then
    raise exception using errcode = '22023', message = 'batch_sync: operations must be an array';
  end if;
  v_n := jsonb_array_length(v_ops);
  insert into public.ccm_sync_systems as s (system_id, settled_through, heartbeat, last_batch_at)
  values (v_claim, coalesce(v_reported, 0), batch -> 'heartbeat', case when v_n > 0 then now() end)
  on conflict (system_id) do update
    set settled_through = greatest(s.settled_through, excluded.settled_through),
        heartbeat = coalesce(excluded.heartbeat, s.heartbeat),
        last_seen_at = now(),
        last_batch_at = coalesce(excluded.last_batch_at, s.last_batch_at)
  returning s.settled_through, s.pruned_through into v_settled, v_pruned;
  if coalesce((batch ->> 'prune_ledger')::boolean, false) and v_settled > v_pruned then
    delete from public.ccm_sync_ledger l where l.system_id = v_claim and l.ledger_seq > v_pruned and l.ledger_seq <= v_settled;
    update public.ccm_sync_systems set pruned_through = v_settled where system_id = v_claim;
  end if;
  if v_reported is null then
    v_settled := null; -- a client that reports no watermark (an older ccm-sync) is judged by the ledger alone
  end if;

  -- The fast path, 500 operations to a subtransaction; a chunk that fails is left to the slow path.
  while v_i < v_n loop
    begin
      v_res := v_res || public.ccm_apply_upserts(v_claim, case when v_n <= 500 then v_ops
        else (select jsonb_agg(e order by o) from jsonb_array_elements(v_ops) with ordinality t(e, o) where o > v_i and o <= v_i + 500) end,
        v_settled);
    exception when others then
      if public.ccm_is_transient(sqlstate) then
        raise;
      end if;
      v_res := v_res || (select jsonb_agg(null::jsonb) from generate_series(1, least(500, v_n - v_i)));
    end;
    v_i := v_i + 500;
  end loop;

  -- The slow path: what the fast path left (JSON nulls), one operation at a time.
  if not (v_res @? '$[*] ? (@ == null)') then
    return v_res;
  end if;
  v_rest := array(select e.o::int from jsonb_array_elements(v_res) with ordinality e(r, o) where jsonb_typeof(e.r) <> 'object' order by e.o);
  if cardinality(v_rest) = 0 then
    return v_res;
  end if;
  v_slow := public.ccm_apply_isolated(v_claim, v_ops, v_rest, v_settled);
  return (select jsonb_agg(case when jsonb_typeof(e.r) = 'object' then e.r else v_slow -> e.o::text end order by e.o)
            from jsonb_array_elements(v_res) with ordinality e(r, o));
end
$$;

-- Ownership and rights: the new functions are the owner's, and no client calls them directly.
do $$
declare
  f text;
begin
  foreach f in array array['ccm_bookkeeping()', 'ccm_columns(text)', 'ccm_insert_sql()', 'ccm_read_sql()', 'ccm_write_sql()', 'ccm_known_results(text, jsonb, integer[], bigint)',
                           'ccm_merge_rows(text, jsonb, integer[], jsonb, jsonb, text[], text[])',
                           'ccm_writer_sql(text, text[])', 'ccm_writer_name(text, text[])', 'ccm_make_writers(text)',
                           'ccm_write_table(text, text, jsonb, bigint)', 'ccm_apply_delete(text, jsonb, text, text, jsonb)',
                           'ccm_apply_isolated(text, jsonb, integer[], bigint)'] loop
    execute format('alter function public.%s owner to ccm_sync_owner', f);
    execute format('revoke all on function public.%s from public, anon, authenticated, service_role', f);
  end loop;
end
$$;

-- Each synced table's writers (see ccm_make_writers). A later migration that adds a column calls
-- ccm_make_writers for its table again.
select public.ccm_make_writers(t.name) from public.ccm_sync_tables t;

-- What each function is for, where supabase/schema.sql (and \df+ in psql) shows it.
comment on function public.batch_sync(jsonb) is
  'One batch of one system''s operations, applied in one transaction, each once. Takes {system_id, operations, settled_through?, prune_ledger?, heartbeat?}; returns one result per operation (applied, stale, duplicate, conflict, rejected). Called by a system''s token (authenticated) or the secret key (service_role); refuses a batch for another system than the JWT names.';
comment on function public.ccm_apply_upserts(text, jsonb, bigint) is
  'The fast path for up to 500 operations: ccm_write_table per table, then ccm_known_results. Returns one entry per operation, null where ccm_apply_op is to answer. Owner only (batch_sync, ccm_apply_op).';
comment on function public.ccm_write_table(text, text, jsonb, bigint) is
  'The operations of one table: the insert statement (ccm_insert_sql), then for the records that exist the read (ccm_read_sql), merge (ccm_merge_rows) and write (ccm_write_sql). Returns the positions it claimed, the results of those inserted (in order) and of those merged (by position); raises 40001 when a record was created directly meanwhile. Owner only (ccm_apply_upserts).';
comment on function public.ccm_bookkeeping() is
  'The columns ccm-sync maintains on every synced table (an operation may not write them): the one list the functions take them from. Owner only.';
comment on function public.ccm_columns(text) is
  'A synced table''s columns, in order. Owner only.';
comment on function public.ccm_insert_sql() is
  'Template of the first statement for a table: parse its operations, insert their ledger entries (a duplicate does not come back), insert the new records. Rendered by ccm_writer_sql. Owner only.';
comment on function public.ccm_read_sql() is
  'Template of the statement that locks and reads the rows and tombstones of the records a batch merges, by key. Owner only.';
comment on function public.ccm_merge_rows(text, jsonb, integer[], jsonb, jsonb, text[], text[]) is
  'The merge of a table''s remaining writes in jsonb (it reads no table): column by column, last write wins, against the rows'' clocks and the tombstones. Returns the rows to insert and update, the results, the stale op_ids and the sources. Owner only (ccm_write_table).';
comment on function public.ccm_write_sql() is
  'Template of the statement that writes what ccm_merge_rows decided: fresh rows, updated rows, stale ledger marks, sources. Owner only.';
comment on function public.ccm_writer_sql(text, text[]) is
  'ccm_insert_sql rendered for a table with these columns. Owner only.';
comment on function public.ccm_writer_name(text, text[]) is
  'The name of the generated insert function for a table with these columns: ccm_insert_<table>_<hash of the columns>. Owner only.';
comment on function public.ccm_make_writers(text) is
  'Generates a table''s ccm_insert_<table>_<hash> function, which keeps its plan per connection. Migrations call it for every synced table and again after adding a column. Owner only.';
comment on function public.ccm_known_results(text, jsonb, integer[], bigint) is
  'Results of the operations no table claimed that need no write: duplicate (with the ledger''s first outcome) or refused at the watermark. Returns {position: result}. Owner only.';
comment on function public.ccm_apply_isolated(text, jsonb, integer[], bigint) is
  'The slow path: the operations at these positions through ccm_apply_op, 50 to a subtransaction, one by one when a chunk fails, so a bad operation is rejected alone. Returns {position: result}; a transient error fails the call. Owner only (batch_sync).';
comment on function public.ccm_apply_delete(text, jsonb, text, text, jsonb) is
  'A checked DELETE against the record''s tombstone and row: stale, conflict (manual review), or applied (the row removed or its older columns cleared, the tombstone moved, the ledger entry written). Owner only (ccm_apply_op).';
comment on function public.ccm_apply_op(text, jsonb, bigint) is
  'One operation the fast path left: a DELETE (tombstone), a manual-review or forced write, or a malformed one (raises, and the caller rejects it). Returns its result. Owner only (ccm_apply_isolated).';
comment on function public.ccm_write_rows(text, jsonb[], jsonb[]) is
  'Inserts the fresh rows and updates the existing ones ccm_apply_op built for a table. Owner only.';
comment on function public.ccm_claim() is
  'The caller''s system id: the JWT''s system_id claim (or app_metadata.system_id). Row-level security and batch_sync compare it with system_id. Any role.';
comment on function public.ccm_version(timestamptz, bigint) is
  'A write''s version, a text that sorts like (changed_at in microseconds, outbox position); a direct edit has no position and sorts after every machine write of the same microsecond. Any role.';
comment on function public.ccm_clock(jsonb) is
  'A row''s version per column: its sync_clock, or, when that is null, sync_version for every column with a value. Any role.';
comment on function public.ccm_refusal(text, bigint, bigint) is
  'The result for an operation at or below its system''s settled watermark (SQLSTATE CCM01), and what to do. Owner only.';
comment on function public.ccm_is_transient(text) is
  'Whether a SQLSTATE is worth retrying (serialization, resources, connection, lock timeout): batch_sync re-raises these so the client retries the call. Clients may call it.';
comment on function public.ccm_direct_at(text, text, text, text) is
  'The time a direct edit of a record is stamped with: now, or just after the newest version the record or its tombstone has. Owner only (the triggers).';
comment on function public.ccm_stamp_direct_write() is
  'Trigger on every synced table for writers other than ccm_sync_owner (the SQL editor, another program): gives the changed columns a version, so last-write-wins orders direct edits with the machines'' writes.';
comment on function public.ccm_tombstone_direct_delete() is
  'Trigger on every synced table for writers other than ccm_sync_owner: a direct delete leaves a tombstone, so an older machine write does not bring the row back.';
comment on function public.ccm_verify_ops(jsonb) is
  'Which of these operations ({op_id, seq}) the ledger does not hold: missing, or pruned (at or below the pruned watermark). For `ccm-sync sync verify`. Authenticated, service_role.';
comment on function public.ccm_missing_ops(jsonb) is
  'Which of these op_ids the ledger does not hold, for the caller''s system (`ccm-sync test offline`). Authenticated, service_role.';
comment on function public.ccm_ping() is 'The remote''s clock (now()): reachability and clock skew (`ccm-sync doctor`). Any role.';
comment on function public.ccm_sync_info() is 'The schema the remote speaks ({"schema": 4}); the client refuses one it does not know. Any role.';
comment on function public.ccm_visible_systems() is
  'How many other systems'' rows the caller can see: 0 under row-level security (`ccm-sync doctor`). Authenticated, service_role.';
