-- ccm-sync remote schema, version 2: a column contract, per-column last-write-wins, edits made
-- directly on the remote, and a remote that trusts no caller.
--
-- Applies on top of the three earlier files, keeps every row, ledger entry and tombstone, and can
-- be applied again without harm.
--
-- 1. Columns. Every synced table gets the columns the design names (alerts.level,
--    supervisory_reports.quality_score, ...) and `extra jsonb`: keys of record_data that name no
--    column are kept there as they were sent, never dropped.
--
-- 2. Last-write-wins per column. A write's version is (change time, outbox position), as text that
--    sorts the same way (ccm_version). Each row keeps the version of every column's last write in
--    `sync_clock` (key '*': the version of every column of a row written before this file) and the
--    newest write's version in `sync_version`. A write sets a column when its version for that
--    column is newer than the column's; a coalesced operation carries each key's own version.
--    A delete at version v clears every column older than v, removes the row when no write to it
--    is newer than v, and leaves a tombstone at v that every older write loses to. The outcome
--    does not depend on the order writes arrive in. A write made directly on the remote (the
--    dashboard, an app, SQL) is stamped by a trigger with the time it happened and no outbox
--    position, so it wins ties; a direct delete leaves a tombstone the same way.
--
-- 3. Trust. batch_sync and the functions it calls are SECURITY DEFINER with an empty search_path,
--    owned by ccm_sync_owner (not a superuser; it owns the tables). batch_sync reads the caller's
--    system_id claim itself and writes nothing for another system. anon and authenticated can
--    read their own system's rows; authenticated may write its own data rows directly (through
--    the stamping trigger), but never the bookkeeping columns, the ledger or the tombstones.
--
-- 4. The ledger is keyed by (system_id, op_id) and bounded: a client reports the outbox position
--    below which everything is settled locally (`settled_through`), and with `prune_ledger` the
--    remote deletes the ledger rows under it. An operation at or below that position that is not
--    in the ledger is refused (CCM01): only a restored, older copy of the client would send one.

-- ---------------------------------------------------------------------------------------------
-- The owner role. The migrating user (postgres on Supabase) becomes a member so that it can hand
-- objects over and replace them in later migrations.
-- ---------------------------------------------------------------------------------------------
do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'ccm_sync_owner') then
    create role ccm_sync_owner nologin;
  end if;
exception when duplicate_object or unique_violation then
  null; -- created concurrently
end
$$;
do $$
begin
  if not pg_catalog.pg_has_role(current_user, 'ccm_sync_owner', 'member') then
    execute format('grant ccm_sync_owner to %I', current_user);
  end if;
end
$$;
grant usage, create on schema public to ccm_sync_owner;

-- ---------------------------------------------------------------------------------------------
-- ccm_version(ts, seq): a write's version as text that sorts like (ts, seq): the change time in
-- microseconds since 1970 (17 digits), then the outbox position (19 digits). Digits only, so any
-- collation orders versions the same way. No seq (a direct edit) sorts after every seq, so a
-- direct edit wins a tie of change times.
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_version(ts timestamptz, seq bigint) returns text
language sql immutable parallel safe set search_path = '' as $$
  select pg_catalog.lpad(greatest(0, pg_catalog.floor(extract(epoch from ts) * 1000000))::bigint::text, 17, '0')
      || pg_catalog.lpad(coalesce(seq, 9223372036854775807)::text, 19, '0')
$$;

-- ccm_claim(): the system_id claim of the caller's JWT, as PostgREST (and our transports) set it.
create or replace function public.ccm_claim() returns text
language sql stable set search_path = '' as $$
  select nullif(coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), ''), '{}')::jsonb ->> 'system_id', '')
$$;

-- ccm_clock(row): a row's per-column versions. sync_clock null (a row written once, by one
-- operation or one direct insert) means: every key with a value has the row's sync_version.
create or replace function public.ccm_clock(r jsonb) returns jsonb
language sql immutable set search_path = '' as $$
  select coalesce(nullif(r -> 'sync_clock', 'null'::jsonb),
    (select coalesce(jsonb_object_agg(f.key, r ->> 'sync_version'), '{}'::jsonb)
       from jsonb_each((r - array['system_id', 'id', 'extra', 'updated_at', 'sync_seq', 'sync_op_id', 'sync_version', 'sync_clock'])
                       || coalesce(nullif(r -> 'extra', 'null'::jsonb), '{}'::jsonb)) f
      where f.value <> 'null'::jsonb))
$$;

-- ---------------------------------------------------------------------------------------------
-- Tables: the registry (the allowlist every function checks), new columns, per-system state.
-- ---------------------------------------------------------------------------------------------
create table if not exists public.ccm_sync_tables (
  name text primary key
);
insert into public.ccm_sync_tables (name)
values ('tasks'), ('supervisory_reports'), ('alerts'), ('contexts'), ('task_summaries'), ('system_status')
on conflict do nothing;

alter table public.tasks add column if not exists started_at timestamptz;
alter table public.supervisory_reports
  add column if not exists quality_score numeric,
  add column if not exists findings jsonb,
  add column if not exists recommendations jsonb;
alter table public.alerts
  add column if not exists level text,
  add column if not exists source text;
alter table public.contexts add column if not exists status text;
alter table public.task_summaries
  add column if not exists session_id text,
  add column if not exists cwd text,
  add column if not exists status text,
  add column if not exists prompt_count integer,
  add column if not exists closed_at timestamptz;

do $$
declare
  t text;
begin
  for t in select name from public.ccm_sync_tables loop
    execute format('alter table public.%I add column if not exists extra jsonb, '
                   'add column if not exists sync_version text, '
                   'add column if not exists sync_clock jsonb', t);
    -- Rows written before this file: every column has the row's version.
    execute format('update public.%I set sync_version = public.ccm_version(updated_at, sync_seq), '
                   'sync_clock = jsonb_build_object(''*'', public.ccm_version(updated_at, sync_seq)) '
                   'where sync_version is null', t);
  end loop;
end
$$;

alter table public.ccm_tombstones add column if not exists version text;
update public.ccm_tombstones set version = public.ccm_version(deleted_at, sync_seq) where version is null;

-- The ledger, keyed by (system_id, op_id); ledger_seq is the highest outbox position among the
-- operations a ledger row stands for (null for rows written before this file: never pruned).
alter table public.ccm_sync_ledger add column if not exists ledger_seq bigint;
do $$
begin
  if exists (select 1 from pg_catalog.pg_constraint
              where conrelid = 'public.ccm_sync_ledger'::regclass and contype = 'p' and pg_catalog.array_length(conkey, 1) = 1) then
    alter table public.ccm_sync_ledger drop constraint ccm_sync_ledger_pkey;
    alter table public.ccm_sync_ledger add constraint ccm_sync_ledger_pkey primary key (system_id, op_id);
  end if;
end
$$;
drop index if exists public.ccm_sync_ledger_system_idx;
create index if not exists ccm_sync_ledger_seq_idx on public.ccm_sync_ledger (system_id, ledger_seq);

-- One row per system: its settled watermark, how far its ledger is pruned, and its heartbeat
-- (what it last said about itself: type, version, backlog, failures, connection, alerts).
create table if not exists public.ccm_sync_systems (
  system_id text primary key,
  settled_through bigint not null default 0,
  pruned_through bigint not null default 0,
  heartbeat jsonb,
  first_seen_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  last_batch_at timestamptz
);

do $$
declare
  t text;
begin
  foreach t in array array['tasks', 'supervisory_reports', 'alerts', 'contexts', 'task_summaries', 'system_status',
                           'ccm_sync_ledger', 'ccm_tombstones', 'ccm_sync_tables', 'ccm_sync_systems'] loop
    execute format('alter table public.%I owner to ccm_sync_owner', t);
  end loop;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_is_transient(sqlstate): errors worth retrying the whole call for. A statement timeout
-- (57014) is not: the client splits the batch instead (see src/remote/transport.ts).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_is_transient(state text) returns boolean
language sql immutable set search_path = '' as $$
  select (left(state, 2) in ('40', '53', '57', '58', '08', 'XX') and state <> '57014') or state = '55P03'
$$;

create or replace function public.ccm_ping() returns timestamptz
language sql stable set search_path = '' as $$ select now() $$;

-- ccm_sync_info(): what this remote speaks. Clients check `schema` before their first upload.
create or replace function public.ccm_sync_info() returns jsonb
language sql stable set search_path = '' as $$
  select jsonb_build_object('schema', 2)
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_write_rows(table, fresh, existing): writes merged rows (whole rows as jsonb, bookkeeping
-- included) to a synced table. `fresh` rows must not exist yet: if a direct insert got there
-- first, it raises 40001 and the client retries the call (the next try merges with that row).
-- `existing` rows were read FOR UPDATE by the caller.
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_write_rows(tbl text, fresh jsonb[], existing jsonb[]) returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_cols text[];
  v_list text;
  v_rlist text;
  v_set_list text;
  v_set_rlist text;
  v_written integer;
begin
  select array_agg(a.attname::text order by a.attnum) into v_cols
    from pg_catalog.pg_attribute a
   where a.attrelid = format('public.%I', tbl)::regclass and a.attnum > 0 and not a.attisdropped;
  select string_agg(format('%I', c), ', '), string_agg(format('r.%I', c), ', ') into v_list, v_rlist from unnest(v_cols) c;
  select string_agg(format('%I', c), ', '), string_agg(format('r.%I', c), ', ') into v_set_list, v_set_rlist
    from unnest(v_cols) c where c not in ('system_id', 'id');
  if cardinality(fresh) > 0 then
    execute format('insert into public.%1$I as t (%2$s) select %3$s from unnest($1::jsonb[]) m(x), '
                   'jsonb_populate_record(null::public.%1$I, m.x) r on conflict (system_id, id) do nothing', tbl, v_list, v_rlist)
      using fresh;
    get diagnostics v_written = row_count;
    if v_written < cardinality(fresh) then
      raise exception using errcode = '40001', message = format('a record of %s was created directly while this batch was applied; retry the call', tbl);
    end if;
  end if;
  if cardinality(existing) > 0 then
    execute format('update public.%1$I as t set (%2$s) = (%3$s) from unnest($1::jsonb[]) m(x), '
                   'jsonb_populate_record(null::public.%1$I, m.x) r where t.system_id = r.system_id and t.id = r.id',
                   tbl, v_set_list, v_set_rlist)
      using existing;
  end if;
end
$$;

-- ccm_refusal(op_id, ledger_seq, watermark): the answer to a new operation at or below the
-- settled watermark.
create or replace function public.ccm_refusal(op_id text, lseq bigint, watermark bigint) returns jsonb
language sql immutable set search_path = '' as $$
  select jsonb_build_object('op_id', op_id, 'status', 'rejected', 'sqlstate', 'CCM01', 'watermark', watermark,
    'message', format('operation at outbox position %s is at or below this system''s settled watermark %s, so it was '
                      'settled before and its ledger entry may be pruned; the local database looks restored from an older '
                      'copy. Check and discard these operations (ccm-sync failed list, ccm-sync failed discard)', lseq, watermark))
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_apply_upserts(sys, ops, settled): INSERT and UPDATE operations under per-column
-- last-write-wins, set-based. Per table: one locked read of the records, one merge of every
-- operation with them, one insert of new rows and one update of existing ones; then one ledger
-- insert. Returns a JSON array aligned with ops: a result for each operation it settled, null for
-- each it leaves to ccm_apply_op (deletes, manual review, forced writes, malformed operations).
-- Raises on anything unexpected (a value that does not fit its column): the caller then applies
-- the chunk one operation at a time.
-- ops: [{op_id, operation, table, record_id, data, changed_at, seq, versions?: {key: [time, seq]},
--        ledger_seq?, source_ids?: [uuid], conflict?: lww|manual, force?: bool}]
-- A result: {op_id, status: applied|stale|duplicate|rejected, first_status?, remote?}; `remote`
-- (the row as it now is) comes with every operation that lost a column.
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_apply_upserts(sys text, ops jsonb, settled bigint) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_bk constant text[] := array['system_id', 'id', 'extra', 'updated_at', 'sync_seq', 'sync_op_id', 'sync_version', 'sync_clock'];
  v_tables text[];
  v_opid text[]; v_tbl text[]; v_rid text[]; v_chg timestamptz[]; v_seq bigint[]; v_lseq bigint[];
  v_ver text[]; v_data jsonb[]; v_vers jsonb[]; v_src jsonb[]; v_ok boolean[];
  v_n integer;
  v_out jsonb[];
  g record;
  r record;
  v_data_cols text[];
  v_cur_ids text[]; v_cur_rows jsonb[];
  v_tomb_ids text[]; v_tomb_vers text[];
  v_solo record;
  v_inserted text[];
  v_dups text[];
  v_idx integer[]; v_res jsonb[]; v_fresh jsonb[]; v_existing jsonb[];
begin
  if sys is distinct from public.ccm_claim() then
    raise exception using errcode = '42501', message = 'ccm_apply_upserts: the system does not match the caller''s system_id claim';
  end if;
  select array_agg(name) into v_tables from public.ccm_sync_tables;
  -- One ordered pass: every array gets the operations in input order (aggregates without an ORDER
  -- BY of their own take rows as the sorted subquery yields them), each operation parsed once.
  -- Each operation's version is ccm_version(changed_at, seq), written out here: a function with
  -- a SET clause costs ~20 µs a call, and this runs for every operation of every batch.
  select array_agg(x.op_id), array_agg(x.tbl), array_agg(x.record_id), array_agg(x.changed_at), array_agg(x.seq),
         array_agg(x.ledger_seq),
         array_agg(pg_catalog.lpad(greatest(0, pg_catalog.floor(extract(epoch from x.changed_at) * 1000000))::bigint::text, 17, '0')
                   || pg_catalog.lpad(coalesce(x.seq, 9223372036854775807)::text, 19, '0')),
         array_agg(x.data), array_agg(coalesce(x.versions, '{}'::jsonb)), array_agg(coalesce(x.source_ids, '[]'::jsonb)),
         array_agg(coalesce(upper(x.operation) in ('INSERT', 'UPDATE')
                   and coalesce(x.conflict, 'lww') = 'lww'
                   and not coalesce(x.force, false)
                   and x.tbl = any (v_tables)
                   and x.record_id <> ''
                   and x.op_id is not null
                   and x.changed_at is not null
                   and jsonb_typeof(x.data) = 'object'
                   and not (x.data ?| v_bk)
                   and jsonb_typeof(coalesce(x.versions, '{}'::jsonb)) = 'object', false)),
         count(*)
    into v_opid, v_tbl, v_rid, v_chg, v_seq, v_lseq, v_ver, v_data, v_vers, v_src, v_ok, v_n
    from (select q.* from rows from (jsonb_to_recordset(ops) as (op_id text, operation text, "table" text, record_id text, data jsonb,
                   changed_at timestamptz, seq bigint, ledger_seq bigint, versions jsonb, source_ids jsonb, conflict text, force boolean))
                   with ordinality q(op_id, operation, tbl, record_id, data, changed_at, seq, ledger_seq, versions, source_ids, conflict, force, o)
           order by q.o) x;
  if v_n = 0 then
    return '[]'::jsonb;
  end if;
  v_out := array_fill(null::jsonb, array[v_n]);

  -- Already applied: duplicate, with the first outcome. One primary-key probe per operation.
  for r in
    select u.i::int as i, u.id, l.result
      from unnest(v_opid, v_opid::uuid[]) with ordinality u(id, uid, i)
      cross join lateral (select x.result from public.ccm_sync_ledger x where x.system_id = sys and x.op_id = u.uid limit 1) l
  loop
    v_out[r.i] := jsonb_build_object('op_id', r.id, 'status', 'duplicate', 'first_status', r.result);
  end loop;
  -- New operations at or below the settled watermark (see the top of this file).
  if settled is not null then
    for r in
      select u.i::int as i, u.id, u.lseq from unnest(v_opid, v_lseq, v_out) with ordinality u(id, lseq, res, i)
       where u.res is null and u.lseq <= settled
    loop
      v_out[r.i] := public.ccm_refusal(r.id, r.lseq, settled);
    end loop;
  end if;

  for g in
    select u.tbl, array_agg(u.rid) as rids
      from unnest(v_tbl, v_rid, v_ok, v_out) u(tbl, rid, ok, res)
     where u.ok and u.res is null
     group by u.tbl
  loop
    select array_agg(a.attname::text order by a.attnum) into v_data_cols
      from pg_catalog.pg_attribute a
     where a.attrelid = format('public.%I', g.tbl)::regclass and a.attnum > 0 and not a.attisdropped and not (a.attname::text = any (v_bk));
    v_tomb_ids := '{}';
    v_tomb_vers := '{}';
    if exists (select 1 from public.ccm_tombstones t where t.system_id = sys and t.table_name = g.tbl) then
      select coalesce(array_agg(t.record_id), '{}'), coalesce(array_agg(t.version), '{}') into v_tomb_ids, v_tomb_vers
        from public.ccm_tombstones t where t.system_id = sys and t.table_name = g.tbl and t.record_id = any (g.rids);
    end if;

    -- Plain inserts first: an operation that is the group's only write to its record, with every
    -- key at its own version and no tombstone, is inserted as is if the record has no row. The
    -- row needs no merge, and no sync_clock unless a key was written as null (null: every column
    -- with a value has the row's sync_version). Records that turn out to exist are merged below.
    select coalesce(array_agg(d.rid), '{}') into v_dups
      from (select u.rid from unnest(v_tbl, v_rid, v_ok, v_out) u(tbl, rid, ok, res)
             where u.tbl = g.tbl and u.ok and u.res is null group by u.rid having count(*) > 1) d;
    select array_agg(o.i) as i, array_agg(o.rid) as rid, array_agg(o.chg) as chg, array_agg(o.seq) as seq,
           array_agg(o.op_id) as op_id, array_agg(o.data) as data, array_agg(o.ver) as ver
      into v_solo
      from unnest(v_tbl, v_rid, v_ver, v_chg, v_seq, v_opid, v_data, v_vers, v_ok, v_out)
           with ordinality o(tbl, rid, ver, chg, seq, op_id, data, vers, ok, res, i)
     where o.tbl = g.tbl and o.ok and o.res is null and o.vers = '{}'::jsonb
       and not (o.rid = any (v_dups)) and not (o.rid = any (v_tomb_ids));
    if v_solo.i is not null then
      execute format('with ins as (insert into public.%1$I as t (%2$s, extra, system_id, id, updated_at, sync_seq, sync_op_id, sync_version, sync_clock) '
                     'select %3$s, nullif(u.data - $8, ''{}''::jsonb), $1, u.rid, u.chg, u.seq, u.op_id::uuid, u.ver, '
                     -- a key written as null keeps its version too, which the implicit clock cannot say
                     'case when u.data @? ''$.* ? (@ == null)'' then (select jsonb_object_agg(k, u.ver) from jsonb_object_keys(u.data) k) end '
                     'from unnest($2::text[], $3::timestamptz[], $4::bigint[], $5::text[], $6::jsonb[], $7::text[]) u(rid, chg, seq, op_id, data, ver), '
                     'jsonb_populate_record(null::public.%1$I, u.data) r on conflict (system_id, id) do nothing returning t.id) '
                     'select coalesce(array_agg(id), ''{}'') from ins',
                     g.tbl, (select string_agg(format('%I', c), ', ') from unnest(v_data_cols) c),
                     (select string_agg(format('r.%I', c), ', ') from unnest(v_data_cols) c))
        into v_inserted
        using sys, v_solo.rid, v_solo.chg, v_solo.seq, v_solo.op_id, v_solo.data, v_solo.ver, v_data_cols;
      v_out := array(
        select coalesce(n.res, u.res)
          from unnest(v_out) with ordinality u(res, i)
          left join (select s.i, jsonb_build_object('op_id', s.id, 'status', 'applied') as res
                       from unnest(v_solo.i, v_solo.op_id, v_solo.rid) s(i, id, rid) join unnest(v_inserted) x(rid) on x.rid = s.rid) n on n.i = u.i
         order by u.i);
      continue when not exists (select 1 from unnest(v_tbl, v_ok, v_out) u(tbl, ok, res) where u.tbl = g.tbl and u.ok and u.res is null);
    end if;
    execute format('select coalesce(array_agg(x.id), ''{}''), coalesce(array_agg(x.r), ''{}'') from '
                   '(select t.id, to_jsonb(t) as r from public.%I t where t.system_id = $1 and t.id = any ($2) for update) x', g.tbl)
      into v_cur_ids, v_cur_rows using sys,
           array(select distinct u.rid from unnest(v_tbl, v_rid, v_ok, v_out) u(tbl, rid, ok, res) where u.tbl = g.tbl and u.ok and u.res is null);

    -- The merge. Every key an operation writes competes with the key's current version (its
    -- entry in the row's clock, the clock's '*', the tombstone); the newest write of each key wins.
    with o as (
      select u.i::int as i, u.rid, u.ver, u.chg, u.seq, u.op_id, u.data, u.vers
        from unnest(v_tbl, v_rid, v_ver, v_chg, v_seq, v_opid, v_data, v_vers, v_ok, v_out)
             with ordinality u(tbl, rid, ver, chg, seq, op_id, data, vers, ok, res, i)
       where u.tbl = g.tbl and u.ok and u.res is null
    ),
    cur as (
      select u.rid, u.row,
             (u.row - v_bk) || coalesce(nullif(u.row -> 'extra', 'null'::jsonb), '{}'::jsonb) as flat,
             -- the row's clock; null means every key with a value has the row's version
             coalesce(nullif(u.row -> 'sync_clock', 'null'::jsonb),
                      (select coalesce(jsonb_object_agg(f.key, u.row ->> 'sync_version'), '{}'::jsonb)
                         from jsonb_each((u.row - v_bk) || coalesce(nullif(u.row -> 'extra', 'null'::jsonb), '{}'::jsonb)) f
                        where f.value <> 'null'::jsonb)) as clock
        from unnest(v_cur_ids, v_cur_rows) u(rid, row)
    ),
    tomb as (select u.rid, u.ver from unnest(v_tomb_ids, v_tomb_vers) u(rid, ver)),
    op as (
      select o.*, t.ver as floor, c.row as cur, c.flat as cur_flat, c.clock as cur_clock, (t.ver is null or o.ver > t.ver) as live
        from o left join tomb t on t.rid = o.rid left join cur c on c.rid = o.rid
    ),
    keys as (
      select op.i, op.rid, e.key, e.value,
             case when op.vers ? e.key then public.ccm_version((op.vers -> e.key ->> 0)::timestamptz, (op.vers -> e.key ->> 1)::bigint)
                  else op.ver end as ver,
             coalesce(greatest(op.cur_clock ->> e.key, op.cur_clock ->> '*', op.floor), '') as prior
        from op cross join lateral jsonb_each(op.data) e
       where op.live
    ),
    won as (
      select distinct on (k.rid collate "C", k.key collate "C") k.rid, k.key, k.value, k.ver, k.i
        from keys k where k.ver > k.prior
       order by k.rid collate "C", k.key collate "C", k.ver collate "C" desc
    ),
    won_rows as (
      select w.rid, jsonb_object_agg(w.key, w.value) as vals, jsonb_object_agg(w.key, w.ver) as vers from won w group by w.rid
    ),
    op_keys as (  -- per operation: did any key beat the record's version, did any key lose
      select k.i, bool_or(k.ver > k.prior) as newer, bool_or(w.i is distinct from k.i) as lost
        from keys k left join won w on w.rid = k.rid and w.key = k.key
       group by k.i
    ),
    top as (  -- per record, its newest live operation
      select distinct on (op.rid collate "C") op.rid, op.i, op.ver, op.chg, op.seq, op.op_id, op.cur, op.cur_flat, op.cur_clock
        from op where op.live order by op.rid collate "C", op.ver collate "C" desc
    ),
    merged as (
      select t.rid, t.i, t.cur is null as fresh,
             coalesce(t.cur_flat, '{}'::jsonb) || coalesce(wr.vals, '{}'::jsonb) as flat,
             coalesce(t.cur_clock, '{}'::jsonb) || coalesce(wr.vers, '{}'::jsonb) as clock,
             t.ver > coalesce(t.cur ->> 'sync_version', '') as newest,
             t.ver, t.chg, t.seq, t.op_id, t.cur
        from top t left join won_rows wr on wr.rid = t.rid
    ),
    built as (
      select m.rid, m.i, m.fresh,
             coalesce((select jsonb_object_agg(f.key, f.value) from jsonb_each(m.flat) f where f.key = any (v_data_cols)), '{}'::jsonb)
             || jsonb_build_object(
                  'system_id', sys, 'id', m.rid,
                  'extra', (select jsonb_object_agg(f.key, f.value) from jsonb_each(m.flat) f where not (f.key = any (v_data_cols))),
                  'updated_at', greatest(m.chg, (m.cur ->> 'updated_at')::timestamptz),
                  'sync_version', case when m.newest then to_jsonb(m.ver) else m.cur -> 'sync_version' end,
                  'sync_seq', case when m.newest then to_jsonb(m.seq) else m.cur -> 'sync_seq' end,
                  'sync_op_id', case when m.newest then to_jsonb(m.op_id) else m.cur -> 'sync_op_id' end,
                  'sync_clock', m.clock) as row
        from merged m
    ),
    results as (
      select op.i,
             jsonb_build_object('op_id', op.op_id,
               'status', case when op.live and (op.cur is null or coalesce(ok.newer, false)) then 'applied' else 'stale' end)
             -- (evaluated only for an operation that lost a column: rare, and a join would cost every one)
             || case when not op.live or coalesce(ok.lost, false)
                     then jsonb_build_object('remote', coalesce((select b.row from built b where b.rid = op.rid), op.cur))
                     else '{}'::jsonb end as res
        from op left join op_keys ok on ok.i = op.i
    )
    select (select array_agg(x.i) from results x), (select array_agg(x.res) from results x),
           coalesce((select array_agg(b.row) from built b where b.fresh), '{}'),
           coalesce((select array_agg(b.row) from built b where not b.fresh), '{}')
      into v_idx, v_res, v_fresh, v_existing;

    perform public.ccm_write_rows(g.tbl, v_fresh, v_existing);
    v_out := array(
      select coalesce(n.res, u.res) from unnest(v_out) with ordinality u(res, i) left join unnest(v_idx, v_res) n(i, res) on n.i = u.i
       order by u.i);
  end loop;

  insert into public.ccm_sync_ledger (system_id, op_id, table_name, record_id, result, ledger_seq)
  select sys, u.op_id::uuid, u.tbl, u.rid, u.res ->> 'status', u.lseq
    from unnest(v_opid, v_tbl, v_rid, v_out, v_lseq) u(op_id, tbl, rid, res, lseq)
   where u.res ->> 'status' in ('applied', 'stale')
  on conflict (system_id, op_id) do nothing;
  if exists (select 1 from unnest(v_src) x where x <> '[]'::jsonb) then
    insert into public.ccm_sync_ledger (system_id, op_id, table_name, record_id, result, ledger_seq)
    select sys, y::uuid, u.tbl, u.rid, u.res ->> 'status', u.lseq
      from unnest(v_tbl, v_rid, v_out, v_src, v_lseq) u(tbl, rid, res, src, lseq)
     cross join lateral jsonb_array_elements_text(u.src) y
     where u.res ->> 'status' in ('applied', 'stale')
    on conflict (system_id, op_id) do nothing;
  end if;
  return to_jsonb(v_out);
end
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_apply_op(sys, op, settled): one operation the set-based path left: a delete, a write under
-- manual review, a forced write (`conflicts resolve --keep local`), or one of a chunk that failed.
-- Returns its result; raises on anything invalid (batch_sync answers that operation `rejected`).
-- ---------------------------------------------------------------------------------------------
drop function if exists public.ccm_apply_op(text, jsonb);
drop function if exists public.ccm_apply_fast(text, jsonb);
create or replace function public.ccm_apply_op(sys text, op jsonb, settled bigint) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_bk constant text[] := array['system_id', 'id', 'extra', 'updated_at', 'sync_seq', 'sync_op_id', 'sync_version', 'sync_clock'];
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
  v_status text;
  v_flat jsonb;
  v_cleared text[];
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

  -- A delete at v_ver: clears every column older than it, removes the row when no write to it is
  -- newer, and leaves a tombstone at v_ver (the floor every older write loses to).
  if v_floor.version is not null and v_ver <= v_floor.version and not v_force then
    v_status := 'stale';
  elsif v_row is null then
    v_status := 'applied';
  elsif v_manual and not v_force and v_row ->> 'sync_version' >= v_ver then
    return jsonb_build_object('op_id', v_op_id, 'status', 'conflict', 'remote', v_row);
  elsif v_force or coalesce(v_row ->> 'sync_version', '') < v_ver then
    execute format('delete from public.%I t where t.system_id = $1 and t.id = $2', v_table) using sys, v_rid;
    v_status := 'applied';
  else
    -- Newer writes to some columns keep the row: clear the columns older than the delete (the
    -- tombstone written below is their version from now on).
    v_flat := (v_row - v_bk) || coalesce(nullif(v_row -> 'extra', 'null'::jsonb), '{}'::jsonb);
    select coalesce(array_agg(f.key), '{}') into v_cleared from jsonb_each(v_flat) f
     where f.value <> 'null'::jsonb
       and coalesce(greatest(public.ccm_clock(v_row) ->> f.key, public.ccm_clock(v_row) ->> '*'), '') < v_ver;
    v_row := v_row
      || jsonb_build_object('extra', nullif(coalesce(nullif(v_row -> 'extra', 'null'::jsonb), '{}'::jsonb) - v_cleared, '{}'::jsonb))
      || coalesce((select jsonb_object_agg(k, null) from unnest(v_cleared) k where v_row ? k), '{}'::jsonb);
    perform public.ccm_write_rows(v_table, '{}', array[v_row]);
    v_status := 'applied';
  end if;
  if v_status = 'applied' then
    insert into public.ccm_tombstones as t (system_id, table_name, record_id, deleted_at, sync_seq, version)
    values (sys, v_table, v_rid, v_changed, v_seq, v_ver)
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
-- batch_sync(batch): the upload RPC.
-- batch: {system_id, sync_timestamp, operations: [op, ...], settled_through?, prune_ledger?,
--         heartbeat?} (op as for ccm_apply_upserts)
-- returns: a JSON array with one result per operation, in order.
-- One call at a time per system (an advisory lock on the caller's claim); one bad operation is
-- answered `rejected` and does not fail the batch; a transient error fails the whole call so the
-- client retries it. Plain upserts go through ccm_apply_upserts, 500 per subtransaction; what it
-- leaves goes through ccm_apply_op in chunks of 50, and only a chunk that fails is redone one
-- operation per subtransaction.
-- ---------------------------------------------------------------------------------------------
create or replace function public.batch_sync(batch jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_claim text := public.ccm_claim();
  v_sys text := batch ->> 'system_id';
  v_ops jsonb := coalesce(batch -> 'operations', '[]'::jsonb);
  v_reported bigint := (batch ->> 'settled_through')::bigint;
  v_settled bigint;
  v_pruned bigint;
  v_n integer;
  v_res jsonb[];
  v_fast jsonb;
  v_rest integer[];
  v_chunk integer[];
  v_chunk_res jsonb[];
  v_i integer;
  v_k integer;
  v_state text;
  v_msg text;
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
  if v_n = 0 then
    return '[]'::jsonb;
  end if;

  v_res := '{}';
  v_i := 0;
  while v_i < v_n loop
    begin
      v_fast := public.ccm_apply_upserts(v_claim, case when v_n <= 500 then v_ops
        else (select jsonb_agg(e order by o) from jsonb_array_elements(v_ops) with ordinality t(e, o) where o > v_i and o <= v_i + 500) end,
        v_settled);
      v_res := v_res || array(select case when jsonb_typeof(e) = 'object' then e end
                                from jsonb_array_elements(v_fast) with ordinality t(e, o) order by o);
    exception when others then
      if public.ccm_is_transient(sqlstate) then
        raise;
      end if;  -- leave the chunk to the slow path, which isolates the bad operation
      v_res := v_res || array_fill(null::jsonb, array[least(500, v_n - v_i)]);
    end;
    v_i := v_i + 500;
  end loop;

  select coalesce(array_agg(i order by i), '{}') into v_rest from generate_series(1, v_n) i where v_res[i] is null;
  v_i := 0;
  while v_i < cardinality(v_rest) loop
    v_chunk := v_rest[v_i + 1 : v_i + 50];
    begin
      v_chunk_res := '{}';
      foreach v_k in array v_chunk loop
        v_chunk_res := v_chunk_res || public.ccm_apply_op(v_claim, v_ops -> (v_k - 1), v_settled);
      end loop;
    exception when others then
      if public.ccm_is_transient(sqlstate) then
        raise;
      end if;
      v_chunk_res := '{}';
      foreach v_k in array v_chunk loop
        begin
          v_chunk_res := v_chunk_res || public.ccm_apply_op(v_claim, v_ops -> (v_k - 1), v_settled);
        exception when others then
          get stacked diagnostics v_state = returned_sqlstate, v_msg = message_text;
          if public.ccm_is_transient(v_state) then
            raise;
          end if;
          v_chunk_res := v_chunk_res || jsonb_build_object('op_id', v_ops -> (v_k - 1) ->> 'op_id', 'status', 'rejected', 'sqlstate', v_state, 'message', v_msg);
        end;
      end loop;
    end;
    for v_k in 1 .. cardinality(v_chunk) loop
      v_res[v_chunk[v_k]] := v_chunk_res[v_k];
    end loop;
    v_i := v_i + 50;
  end loop;
  return to_jsonb(v_res);
end
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_verify_ops(ops): which of the caller's operations the ledger does not hold.
-- ops: [{op_id, seq}] (seq: the highest outbox position the operation stands for).
-- returns: {missing: [op_id], pruned: [op_id]}; `pruned` are not in the ledger but at or below
-- the position it was pruned to, so their entries may have been removed after they applied.
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_verify_ops(ops jsonb) returns jsonb
language sql stable security definer set search_path = '' as $$
  with me as (select public.ccm_claim() as sys),
  p as (select coalesce((select s.pruned_through from public.ccm_sync_systems s, me where s.system_id = me.sys), 0) as through),
  absent as (
    select e ->> 'op_id' as id, (e ->> 'seq')::bigint as seq
      from jsonb_array_elements(ops) e, me
     where not exists (select 1 from public.ccm_sync_ledger l where l.system_id = me.sys and l.op_id = (e ->> 'op_id')::uuid)
  )
  select jsonb_build_object(
    'missing', coalesce((select jsonb_agg(a.id) from absent a, p where a.seq is null or p.through = 0 or a.seq > p.through), '[]'::jsonb),
    'pruned', coalesce((select jsonb_agg(a.id) from absent a, p where p.through > 0 and a.seq <= p.through), '[]'::jsonb))
$$;

-- ccm_missing_ops(op_ids): the caller's operation ids the ledger does not hold (older clients).
create or replace function public.ccm_missing_ops(op_ids jsonb) returns jsonb
language sql stable security definer set search_path = '' as $$
  select coalesce(jsonb_agg(x.id), '[]'::jsonb)
    from unnest(array(select jsonb_array_elements_text(op_ids))::uuid[]) x(id)
   where not exists (select 1 from public.ccm_sync_ledger l where l.system_id = public.ccm_claim() and l.op_id = x.id)
$$;

-- ---------------------------------------------------------------------------------------------
-- Writes made directly on the remote (not through batch_sync, which runs as ccm_sync_owner):
-- stamped with now() and no outbox position, per column, so last-write-wins and manual review
-- see them as the newer version. The bookkeeping columns are the trigger's to set, whatever the
-- statement said. A direct delete leaves a tombstone at now(): a later upload of an older change
-- loses to it, a newer one brings the record back.
-- ---------------------------------------------------------------------------------------------
-- ccm_direct_at(system, table, id, newest): when a direct edit of a record happens: now, or just
-- after the newest version the record has seen (its newest write, or its tombstone) when that is
-- later than now (a machine whose clock runs ahead wrote it). A direct edit is the newest version.
create or replace function public.ccm_direct_at(sys text, tbl text, rid text, newest text) returns timestamptz
language sql stable security definer set search_path = '' as $$
  select greatest(now(), pg_catalog.to_timestamp((left(v, 17)::bigint + 1) / 1000000.0))
    from (select greatest(newest, (select t.version from public.ccm_tombstones t
                                    where t.system_id = sys and t.table_name = tbl and t.record_id = rid)) as v) x
$$;

create or replace function public.ccm_stamp_direct_write() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_bk constant text[] := array['system_id', 'id', 'extra', 'updated_at', 'sync_seq', 'sync_op_id', 'sync_version', 'sync_clock'];
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

create or replace function public.ccm_tombstone_direct_delete() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_when timestamptz := public.ccm_direct_at(old.system_id, tg_table_name, old.id, old.sync_version);
begin
  insert into public.ccm_tombstones as t (system_id, table_name, record_id, deleted_at, sync_seq, version)
  values (old.system_id, tg_table_name, old.id, v_when, null, public.ccm_version(v_when, null))
  on conflict (system_id, table_name, record_id) do update
    set deleted_at = excluded.deleted_at, sync_seq = null, version = excluded.version
    where t.version is null or t.version < excluded.version;
  return old;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Ownership, privileges, row-level security and triggers.
-- ---------------------------------------------------------------------------------------------
do $$
declare
  f text;
begin
  foreach f in array array['ccm_version(timestamptz, bigint)', 'ccm_claim()', 'ccm_clock(jsonb)', 'ccm_is_transient(text)', 'ccm_ping()',
                           'ccm_sync_info()', 'ccm_write_rows(text, jsonb[], jsonb[])', 'ccm_refusal(text, bigint, bigint)',
                           'ccm_apply_upserts(text, jsonb, bigint)', 'ccm_apply_op(text, jsonb, bigint)', 'batch_sync(jsonb)',
                           'ccm_verify_ops(jsonb)', 'ccm_missing_ops(jsonb)', 'ccm_stamp_direct_write()', 'ccm_direct_at(text, text, text, text)',
                           'ccm_tombstone_direct_delete()'] loop
    execute format('alter function public.%s owner to ccm_sync_owner', f);
    execute format('revoke all on function public.%s from public, anon, authenticated, service_role', f);
  end loop;
end
$$;
grant execute on function public.ccm_version(timestamptz, bigint), public.ccm_claim(), public.ccm_clock(jsonb), public.ccm_ping(), public.ccm_sync_info()
  to anon, authenticated, service_role;
grant execute on function public.ccm_is_transient(text), public.batch_sync(jsonb), public.ccm_verify_ops(jsonb),
  public.ccm_missing_ops(jsonb) to authenticated, service_role;

do $$
declare
  t text;
  v_ins text;
  v_upd text;
begin
  foreach t in array array['tasks', 'supervisory_reports', 'alerts', 'contexts', 'task_summaries', 'system_status',
                           'ccm_sync_ledger', 'ccm_tombstones', 'ccm_sync_systems'] loop
    execute format('alter table public.%I enable row level security', t);
    execute format('revoke all on public.%I from public, anon, authenticated, service_role', t);
    execute format('drop policy if exists ccm_own_system on public.%I', t);
    execute format('drop policy if exists ccm_read_own on public.%I', t);
    execute format('create policy ccm_read_own on public.%I for select to authenticated using (system_id = (select public.ccm_claim()))', t);
    execute format('grant select on public.%I to authenticated, service_role', t);
  end loop;
  alter table public.ccm_sync_tables enable row level security;
  revoke all on public.ccm_sync_tables from public, anon, authenticated, service_role;
  drop policy if exists ccm_read_all on public.ccm_sync_tables;
  create policy ccm_read_all on public.ccm_sync_tables for select to authenticated, service_role using (true);
  grant select on public.ccm_sync_tables to authenticated, service_role;

  for t in select name from public.ccm_sync_tables loop
    -- A system may write its own data rows directly, but not the bookkeeping columns; the trigger
    -- stamps what it writes.
    select string_agg(format('%I', a.attname), ', ' order by a.attnum),
           string_agg(format('%I', a.attname), ', ' order by a.attnum) filter (where a.attname not in ('system_id', 'id'))
      into v_ins, v_upd
      from pg_catalog.pg_attribute a
     where a.attrelid = format('public.%I', t)::regclass and a.attnum > 0 and not a.attisdropped
       and a.attname not in ('updated_at', 'sync_seq', 'sync_op_id', 'sync_version', 'sync_clock');
    execute format('grant insert (%s) on public.%I to authenticated', v_ins, t);
    execute format('grant update (%s) on public.%I to authenticated', v_upd, t);
    execute format('grant delete on public.%I to authenticated', t);
    execute format('grant insert, update, delete on public.%I to service_role', t);
    execute format('drop policy if exists ccm_insert_own on public.%I', t);
    execute format('drop policy if exists ccm_update_own on public.%I', t);
    execute format('drop policy if exists ccm_delete_own on public.%I', t);
    execute format('create policy ccm_insert_own on public.%I for insert to authenticated with check (system_id = (select public.ccm_claim()))', t);
    execute format('create policy ccm_update_own on public.%I for update to authenticated using (system_id = (select public.ccm_claim())) '
                   'with check (system_id = (select public.ccm_claim()))', t);
    execute format('create policy ccm_delete_own on public.%I for delete to authenticated using (system_id = (select public.ccm_claim()))', t);
    execute format('drop trigger if exists ccm_direct_write on public.%I', t);
    execute format('create trigger ccm_direct_write before insert or update on public.%I for each row '
                   'when (current_user <> ''ccm_sync_owner'') execute function public.ccm_stamp_direct_write()', t);
    execute format('drop trigger if exists ccm_direct_delete on public.%I', t);
    execute format('create trigger ccm_direct_delete after delete on public.%I for each row '
                   'when (current_user <> ''ccm_sync_owner'') execute function public.ccm_tombstone_direct_delete()', t);
  end loop;
end
$$;
