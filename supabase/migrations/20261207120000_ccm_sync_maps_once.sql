-- Batch-wide maps built once, or only when an answer needs them, and the merge's rows passed as
-- arrays, and a fix for writes to tables under manual review (schema 5: otherwise the same rows,
-- ledger entries and answers, except that a compact answer no longer lists a merged operation
-- that was simply applied).
--
-- 1. The statement for a batch with repeats (ccm_new_rows_sql rendered with ON CONFLICT: every
--    batch under 50 operations, and any batch that holds an operation the ledger has already, such
--    as one sent again after a crash) picks the operations whose ledger entries went in through a
--    map of their op_ids (claimed_o). In 20261207000000 that map was a subquery in FROM, and
--    Postgres, which estimates every step of these plans at one row, put it on the inner side of a
--    nested loop without keeping its result: it built the map again for each operation. For 500
--    operations that is 250,000 rows read, and 130 ms of a call that otherwise takes about 10 ms; a
--    batch of 49 read 2,401. Now the map is a scalar subquery, which Postgres computes once (an
--    InitPlan), whatever it estimates.
-- 2. The merge (updates of records that exist) passed rows between its steps as jsonb maps built
--    with jsonb_object_agg, which for 500 rows takes about 10 ms (array_agg of the same rows: 0.4):
--    the rows read ({record: row}), the same rows with their keys flat and their clocks, the merged
--    rows to write, and the merged rows again for the answers. Together about half of a call of
--    500 updates. Now:
--    - ccm_read_sql returns the rows read as two arrays, ids and rows;
--    - ccm_merge_writes joins each write to its record's row (a hash join: enable_nestloop is off
--      for it), and computes that row's keys flat and clock for it alone;
--    - ccm_merge_rows returns the rows to write as arrays, and builds the map of merged rows only
--      when an answer shows one (an operation that lost a key, or came after a delete: a scalar
--      subquery, computed the first time it is needed); its results list only the operations
--      that were not simply applied, as a compact answer does;
--    - ccm_write_sql upserts the merged rows of records that exist on their key (they are locked
--      by the read), rather than updating each through a lookup in a map.
--    ccm_merge_writes and ccm_merge_rows take and return arrays, so they are made again with their
--    new signatures and the old ones dropped.
--    Measured (npm run bench server, two runs): 500 updates of existing records, 94-101 ms a call
--    before, 53-55 now; 25 updates 4.4-6.3 ms before, 3.0-4.1 now.
--
-- 3. A fix: a write to a table under manual review (conflicts.manual_tables) that carries no
--    version per key (a single write: only writes packaged together carry them) was held for
--    review as a conflict whenever its record existed, however new it was. ccm_apply_op took each
--    key's version as coalesce(ccm_version(<the key's version>), <the write's>), and ccm_version of
--    nulls is not null (the lowest version there is), so every key looked older than the record.
--    Now a key without a version of its own has the write's, as in the merge. Also, a write that
--    ccm_apply_op applies through the merge is answered with its op_id as sent, as everywhere else
--    (since the merge lists only the operations that were not simply applied, ccm_apply_op answers
--    those itself, and it wrote the op_id as a uuid).
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


-- ---------------------------------------------------------------------------------------------
-- The merge, with rows passed as arrays (2 above): the old signatures of ccm_merge_rows and
-- ccm_merge_writes go first.
-- ---------------------------------------------------------------------------------------------
drop function if exists public.ccm_merge_rows(text, jsonb, integer[], jsonb, jsonb, text[], text[]);
drop function if exists public.ccm_merge_writes(jsonb, integer[], jsonb, jsonb, text[]);

-- ---------------------------------------------------------------------------------------------
-- ccm_read_sql() -> text
--   Purpose: the statement that locks and reads the rows of the records a batch merges, by key,
--            and probes their tombstones record by record, as a format() template (%1$s the table).
--            Parameters: $1 system, $2 the records, $3 the table.
--   Returns: one row: ids and rows (the rows that exist, as jsonb, in the order of ids; null when
--            none does), tomb ({record: tombstone version}).
--   Callers: ccm_apply_table (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_read_sql() returns text
language sql immutable set search_path = '' as $q$ select $sql$
with c as (select t.id, to_jsonb(t) as row from public.%1$I t where t.system_id = $1 and t.id = any ($2) for update)
select x.ids, x.rows,
       (select coalesce(jsonb_object_agg(r.rid, y.version), '{}'::jsonb)
          from unnest($2) r(rid)
          cross join lateral (select t.version from public.ccm_tombstones t
                               where t.system_id = $1 and t.table_name = $3 and t.record_id = r.rid limit 1) y) as tomb
  from (select array_agg(c.id) as ids, array_agg(c.row) as rows from c) x
$sql$ $q$;

-- ---------------------------------------------------------------------------------------------
-- ccm_merge_writes(ops, positions, cur_ids, cur_rows, tombstones, bk) -> setof (i, op_id, rid, data,
--   chg, seq, lseq, vers, src, ver, floor, cur, cur_flat, cur_clock, live)
--   Purpose: the writes at these positions, each with what it competes with: its version (ver),
--            the record's tombstone version (floor), its current row (cur: the row of cur_rows at
--            the place of its record in cur_ids), that row's keys flat (extra's included) and its
--            clock (a null clock: every key with a value has the row's version), and whether it is
--            newer than the tombstone (live).
--   Callers: ccm_merge_rows (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_merge_writes(ops jsonb, positions integer[], cur_ids text[], cur_rows jsonb[], tombstones jsonb, bk text[])
returns table (i integer, op_id text, rid text, data jsonb, chg timestamptz, seq bigint, lseq bigint, vers jsonb, src jsonb,
               ver text, floor text, cur jsonb, cur_flat jsonb, cur_clock jsonb, live boolean)
-- (PL/pgSQL, and a plan made once per connection: it reads no table; no nested loop, which for
-- the join of the writes with the rows would read every row again for each write)
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan set enable_nestloop = off as $f$
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
  w as (  -- each write with its record as it stands (null: none), and that row's keys flat
    select o.*, r.row, (r.row - bk) || coalesce(nullif(r.row -> 'extra', 'null'::jsonb), '{}'::jsonb) as flat
      from o left join unnest(cur_ids, cur_rows) r(rid, row) on r.rid = o.rid
  )
  select c.i, c.op_id, c.rid, c.data, c.chg, c.seq, c.lseq, c.vers, c.src, c.ver,
         tombstones ->> c.rid, c.row, c.flat,
         case when c.row is not null then
           coalesce(nullif(c.row -> 'sync_clock', 'null'::jsonb),
                    (select coalesce(jsonb_object_agg(f.key, c.row ->> 'sync_version'), '{}'::jsonb)
                       from jsonb_each(c.flat) f where f.value <> 'null'::jsonb)) end,
         (tombstones ->> c.rid) is null or c.ver > (tombstones ->> c.rid)
    from w c;
end
$f$;

-- ---------------------------------------------------------------------------------------------
-- ccm_merge_rows(sys, ops, positions, cur_ids, cur_rows, tomb, bk, data_cols) -> (fresh, existing,
--   results, stale, sources)
--   Purpose: the merge of one table's remaining writes, in jsonb only (it reads no table, so its
--            plan is made once per connection). Every write competes key by key with the key's
--            current version (its entry in the row's clock, the clock's '*', the tombstone): the
--            newest write of each key wins, and each record's newest live write carries the merged
--            row. An operation none of whose keys beat the record is stale; one that lost a key gets
--            the record as it stands ("remote").
--   Inputs:  ops the batch; positions those to merge; cur_ids and cur_rows the records' rows as the
--            table has them (locked), in the same order; tomb {record: tombstone version}; bk the
--            bookkeeping columns; data_cols the table's other columns. ccm_merge_writes pairs each
--            write with what it competes with.
--   Returns: fresh (rows to insert), existing (rows to update), results ({"<position>": result}
--            for each operation not simply applied: stale, or showing the record), stale (op_ids
--            whose ledger entry says stale), sources ([op_id, record, status, position] of the
--            hook events packaged summaries stand for).
--   Callers: ccm_apply_table (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_merge_rows(sys text, ops jsonb, positions integer[], cur_ids text[], cur_rows jsonb[], tomb jsonb,
    bk text[], data_cols text[], out fresh jsonb[], out existing jsonb[], out results jsonb, out stale uuid[], out sources jsonb)
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $f$
begin
  with op as materialized (select * from public.ccm_merge_writes(ops, positions, cur_ids, cur_rows, tomb, bk)),
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
                then coalesce((select jsonb_object_agg(f.key, f.value) from jsonb_each((select b.rows from built_rows b) -> op.rid) f
                                where f.key = any (bk) or f.key = any (data_cols)), op.cur) end as remote
      from op, verdicts v
  )
  select coalesce((select array_agg(b.row) from built b where b.fresh), '{}'),
         coalesce((select array_agg(b.row) from built b where not b.fresh), '{}'),
         coalesce((select jsonb_object_agg(x.i, jsonb_build_object('op_id', x.op_id, 'status', x.status)
                           || case when x.shows_remote then jsonb_build_object('remote', x.remote) else '{}'::jsonb end)
                     from outcome x where x.status <> 'applied' or x.shows_remote), '{}'::jsonb),
         coalesce((select array_agg(x.op_id::uuid) from outcome x where x.status = 'stale'), '{}'),
         coalesce((select jsonb_agg(jsonb_build_array(y, x.rid, x.status, x.lseq)) from outcome x cross join lateral jsonb_array_elements_text(x.src) y), '[]'::jsonb)
    into fresh, existing, results, stale, sources;
end
$f$;

-- ---------------------------------------------------------------------------------------------
-- ccm_write_sql() -> text
--   Purpose: the statement that writes what ccm_merge_rows decided, as a format() template: %1$s the
--            table, %2$s its columns, %3$s the same as r.<column>, %4$s the columns but system_id
--            and id, %5$s the same as excluded.<column>. Parameters: $1 fresh rows, $2 rows to
--            update (their records exist, locked by the read: each is written whole, merged), $3
--            system, $4 op_ids whose ledger entry says stale, $5 table, $6 sources.
--   Returns: whether every fresh row went in (else a record was created directly meanwhile).
--   Callers: ccm_apply_table (owner only).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_write_sql() returns text
language sql immutable set search_path = '' as $q$ select $sql$
with created as (
  insert into public.%1$I as t (%2$s)
  select %3$s from unnest($1::jsonb[]) b(row), jsonb_populate_record(null::public.%1$I, b.row) r
  on conflict (system_id, id) do nothing
  returning 1
),
updated as (
  insert into public.%1$I as t (%2$s)
  select %3$s from unnest($2::jsonb[]) b(row), jsonb_populate_record(null::public.%1$I, b.row) r
  on conflict (system_id, id) do update set (%4$s) = (%5$s)
),
marked as (
  update public.ccm_sync_ledger l set result = 'stale' where l.system_id = $3 and l.op_id = any ($4)
),
sources as (  -- the hook events a packaged summary stands for
  insert into public.ccm_sync_ledger (system_id, op_id, table_name, record_id, result, ledger_seq)
  select $3, (s ->> 0)::uuid, $5, s ->> 1, s ->> 2, (s ->> 3)::bigint from jsonb_array_elements($6) s
  on conflict (system_id, op_id) do nothing
)
select (select count(*) from created) = cardinality($1) as complete
$sql$ $q$;

-- ---------------------------------------------------------------------------------------------
-- ccm_apply_table(sys, tbl, ops, settled) -> (claimed, merged): as in
-- 20261207000000_ccm_sync_compact_answers.sql (its header says what it takes and returns), with
-- the read, merge and write passing rows as arrays.
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
  select * into v_m from public.ccm_merge_rows(sys, ops, v_new.to_merge, v_read.ids, v_read.rows, v_read.tomb, v_bk, v_data);
  execute format(public.ccm_write_sql(), tbl,
      (select string_agg(format('%I', c), ', ') from unnest(v_cols) c), (select string_agg(format('r.%I', c), ', ') from unnest(v_cols) c),
      (select string_agg(format('%I', c), ', ') from unnest(v_cols) c where c not in ('system_id', 'id')),
      (select string_agg(format('excluded.%I', c), ', ') from unnest(v_cols) c where c not in ('system_id', 'id')))
    into v_complete using v_m.fresh, v_m.existing, sys, v_m.stale, tbl, v_m.sources;
  if not v_complete then
    raise exception using errcode = '40001', message = format('a record of %s was created directly while this batch was applied; retry the call', tbl);
  end if;
  merged := v_m.results;
end
$f$;

do $$
declare
  f text;
begin
  foreach f in array array['ccm_merge_writes(jsonb, integer[], text[], jsonb[], jsonb, text[])',
                           'ccm_merge_rows(text, jsonb, integer[], text[], jsonb[], jsonb, text[], text[])'] loop
    execute format('alter function public.%s owner to ccm_sync_owner', f);
    execute format('revoke all on function public.%s from public, anon, authenticated, service_role', f);
  end loop;
end
$$;

comment on function public.ccm_apply_table(text, text, jsonb, bigint) is
  'The operations of one table: the first statement (ccm_new_rows_sql), then for the records that exist the read (ccm_read_sql), merge (ccm_merge_rows) and write (ccm_write_sql). Returns the positions it claimed and the results of those merged that were not simply applied; raises 40001 when a record was created directly meanwhile. Owner only (ccm_apply_writes).';
comment on function public.ccm_read_sql() is
  'Template of the statement that locks and reads the rows of the records a batch merges, by key (as two arrays: ids and rows), and probes their tombstones record by record. Owner only.';
comment on function public.ccm_merge_writes(jsonb, integer[], text[], jsonb[], jsonb, text[]) is
  'The writes a merge competes: each with its version, the record''s tombstone version, current row, flat keys and clock, and whether it is newer than the tombstone. Owner only (ccm_merge_rows).';
comment on function public.ccm_merge_rows(text, jsonb, integer[], text[], jsonb[], jsonb, text[], text[]) is
  'The merge of a table''s remaining writes in jsonb (it reads no table, so its plan is made once per connection): column by column, last write wins, against the rows'' clocks and the tombstones. Returns the rows to insert and to update (arrays), the results of the operations not simply applied, the stale op_ids and the sources. Owner only (ccm_apply_table).';
comment on function public.ccm_write_sql() is
  'Template of the statement that writes what ccm_merge_rows decided: fresh rows, merged rows of records that exist, stale ledger marks, sources. Owner only.';

-- ccm_apply_op(sys, op, settled) -> jsonb: as in 20261207000000_ccm_sync_compact_answers.sql (its
-- header says what it takes and returns), with a manual-review write judged by its own version for
-- the keys it sends no version for (3 above), and an applied one answered with its op_id as sent.
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
                   where case when op -> 'versions' ? k
                              then public.ccm_version((op -> 'versions' -> k ->> 0)::timestamptz, (op -> 'versions' -> k ->> 1)::bigint)
                              else v_ver end  -- (ccm_version of nulls is not null: a key without a version of its own has the write's)
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
    return jsonb_build_object('op_id', op -> 'op_id', 'status', 'applied');  -- (as sent, as the fast path answers it)
  end if;
  raise exception using errcode = '22023', message = 'batch_sync could not apply this operation as it stands',
    hint = 'See `ccm-sync failed show` for the operation.';
end
$$;

-- Each synced table's function again, from the template above (ccm_make_writers replaces them in
-- place: the same names, owner and rights).
select public.ccm_make_writers(t.name) from public.ccm_sync_tables t;
