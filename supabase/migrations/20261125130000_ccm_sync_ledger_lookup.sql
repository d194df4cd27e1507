-- Find a batch's duplicates through the ledger's primary key, however large the ledger grows.
--
-- batch_sync looked up a batch's operation ids with a join on `l.op_id = u.id::uuid`, and
-- Postgres answered it by reading the system's whole ledger for every batch: batches got slower in
-- proportion to the ledger, from 12 ms to 44 ms per 500 operations after 200,000 operations, and
-- a million-operation drain ran at a third of its speed. Two reasons, both from row-level
-- security:
-- - a condition that calls a function which is not leakproof (the text to uuid cast) may not run
--   before the policy's filter, so it cannot be an index condition;
-- - the planner cannot see the value the policy compares system_id with, so before the ledger has
--   statistics it guesses that 0.5% of the rows pass, and a hash of "those few" rows looks cheaper
--   than 500 index probes.
-- The ids are now cast before the lookup, and the lookup is one probe per operation (LATERAL …
-- LIMIT 1), which leaves the primary key as the only sensible plan, also for a plan PL/pgSQL made
-- while the ledger was nearly empty and keeps. ccm_apply_fast is otherwise unchanged from
-- 20261125000000_ccm_sync.sql; ccm_missing_ops gets the same cast.

create or replace function public.ccm_apply_fast(sys text, ops jsonb) returns jsonb
language plpgsql security invoker set search_path = public, pg_temp as $$
declare
  -- The batch is unpacked once into arrays of small values: touching a large jsonb variable
  -- inside a loop would detoast all of it on every access.
  v_opid text[];
  v_tbl text[];
  v_rid text[];
  v_chg timestamptz[];
  v_seq bigint[];
  v_data jsonb[];
  v_ok boolean[];
  v_src jsonb[];
  v_n integer;
  v_out jsonb[];
  v_reserved constant text[] := array['system_id', 'id', 'updated_at', 'sync_seq', 'sync_op_id'];
  g record;
  r record;
  v_keys text[];
  v_table_cols text[];
  v_live integer[];
  v_applied text[];
  v_applied_ops text[];
  v_stale_ids text[];  -- operation ids answered stale, to be given the remote row
  v_g_rid text[];
  v_g_chg timestamptz[];
  v_g_seq bigint[];
  v_g_op text[];
  v_g_data jsonb[];
  v_dead integer[];
  v_tombs_found boolean;
begin
  select array_agg(e ->> 'op_id' order by o), array_agg(e ->> 'table' order by o), array_agg(e ->> 'record_id' order by o),
         array_agg((e ->> 'changed_at')::timestamptz order by o), array_agg((e ->> 'seq')::bigint order by o),
         array_agg(e -> 'data' order by o), array_agg(coalesce(e -> 'source_ids', '[]'::jsonb) order by o),
         array_agg(upper(e ->> 'operation') in ('INSERT', 'UPDATE')
                   and coalesce(e ->> 'conflict', 'lww') = 'lww'
                   and not coalesce((e ->> 'force')::boolean, false)
                   and coalesce(e ->> 'table' in ('tasks', 'supervisory_reports', 'alerts', 'contexts', 'task_summaries', 'system_status'), false)
                   and coalesce(e ->> 'record_id', '') <> ''
                   and e ->> 'op_id' is not null
                   and e ->> 'changed_at' is not null
                   and coalesce(jsonb_typeof(e -> 'data') = 'object', false) order by o),
         count(*)
    into v_opid, v_tbl, v_rid, v_chg, v_seq, v_data, v_src, v_ok, v_n
    from jsonb_array_elements(ops) with ordinality x(e, o);
  if v_n = 0 then
    return '[]'::jsonb;
  end if;
  v_out := array_fill(null::jsonb, array[v_n]);

  -- Already applied: answer duplicate with the first outcome. One primary-key probe per
  -- operation, with ids cast before the probe (see the top of this file).
  for r in
    select u.i::int as i, u.id, l.result
      from unnest(v_opid, v_opid::uuid[]) with ordinality u(id, uid, i)
      cross join lateral (select x.result from public.ccm_sync_ledger x where x.op_id = u.uid limit 1) l
  loop
    v_out[r.i] := jsonb_build_object('op_id', r.id, 'status', 'duplicate', 'first_status', r.result);
  end loop;

  -- Groups of operations on one table with one key set, each with its own arrays. jsonb keeps
  -- an object's keys in a canonical order, so equal key sets list equally without sorting.
  -- Arrays are zipped with unnest throughout: subscripting a large array inside a query walks it
  -- from the start for every element.
  for g in
    select u.tbl, array(select jsonb_object_keys(u.data)) as keys,
           array_agg(u.i order by u.i) as idx, array_agg(u.rid order by u.i) as rid, array_agg(u.chg order by u.i) as chg,
           array_agg(u.seq order by u.i) as seq, array_agg(u.op_id order by u.i) as op_id, array_agg(u.data order by u.i) as data
      from unnest(v_tbl, v_data, v_ok, v_out, v_rid, v_chg, v_seq, v_opid) with ordinality
           u(tbl, data, ok, res, rid, chg, seq, op_id, i)
     where u.ok and u.res is null
     group by 1, 2
  loop
    select coalesce(array_agg(k), '{}') into v_keys from unnest(g.keys) k where not (k = any (v_reserved));
    select array_agg(a.attname::text) into v_table_cols from pg_attribute a
     where a.attrelid = format('public.%I', g.tbl)::regclass and a.attnum > 0 and not a.attisdropped;
    continue when not (v_keys <@ v_table_cols);  -- unknown columns: the slow path rejects them

    v_live := g.idx;
    v_g_rid := g.rid;
    v_g_chg := g.chg;
    v_g_seq := g.seq;
    v_g_op := g.op_id;
    v_g_data := g.data;
    -- Operations behind a newer tombstone are stale, and left out of the upsert.
    v_tombs_found := exists (select 1 from public.ccm_tombstones t
                              where t.system_id = sys and t.table_name = g.tbl and t.record_id = any (g.rid));
    if v_tombs_found then
      v_dead := '{}';
      for r in
        select x.i, x.op_id
          from unnest(g.idx, g.rid, g.chg, g.seq, g.op_id) x(i, rid, chg, seq, op_id)
          join public.ccm_tombstones t on t.system_id = sys and t.table_name = g.tbl and t.record_id = x.rid
         where (t.deleted_at, coalesce(t.sync_seq, 9223372036854775807)) >= (x.chg, coalesce(x.seq, 0))
      loop
        v_out[r.i] := jsonb_build_object('op_id', r.op_id, 'status', 'stale', 'remote', null);
        v_dead := v_dead || r.i;
      end loop;
      if cardinality(v_dead) > 0 then
        select coalesce(array_agg(x.i order by x.i), '{}'), array_agg(x.rid order by x.i), array_agg(x.chg order by x.i),
               array_agg(x.seq order by x.i), array_agg(x.op_id order by x.i), array_agg(x.data order by x.i)
          into v_live, v_g_rid, v_g_chg, v_g_seq, v_g_op, v_g_data
          from unnest(g.idx, g.rid, g.chg, g.seq, g.op_id, g.data) x(i, rid, chg, seq, op_id, data)
         where not (x.i = any (v_dead));
        continue when cardinality(v_live) = 0;
      end if;
    end if;

    -- One upsert for the group. Each row's data columns come from jsonb_populate_record on the
    -- table's own row type (so every value gets its column's type); the reserved columns come
    -- from the operation, never from its data.
    execute format(
      'with ins as (
         insert into public.%1$I as t (%2$s system_id, id, updated_at, sync_seq, sync_op_id)
         select %3$s $1, u.rid, u.chg, u.seq, u.op_id::uuid
           from unnest($2::text[], $3::timestamptz[], $4::bigint[], $5::text[], $6::jsonb[]) u(rid, chg, seq, op_id, data),
                jsonb_populate_record(null::public.%1$I, u.data) r
         on conflict (system_id, id) do update set %4$s updated_at = excluded.updated_at,
           sync_seq = excluded.sync_seq, sync_op_id = excluded.sync_op_id
         where (t.updated_at, coalesce(t.sync_seq, 9223372036854775807)) < (excluded.updated_at, coalesce(excluded.sync_seq, 0))
         returning t.id, t.sync_op_id)
       select coalesce(array_agg(id), ''{}''), coalesce(array_agg(sync_op_id::text), ''{}'') from ins',
      g.tbl,
      (select string_agg(format('%I, ', c), '') from unnest(v_keys) c),
      (select string_agg(format('r.%I, ', c), '') from unnest(v_keys) c),
      (select string_agg(format('%1$I = excluded.%1$I, ', c), '') from unnest(v_keys) c))
      into v_applied, v_applied_ops using sys, v_g_rid, v_g_chg, v_g_seq, v_g_op, v_g_data;

    -- Applied, or stale (the remote row is newer): a hash join with the operation ids the upsert
    -- wrote. Matching on operation ids, not record ids, keeps two writes to one record apart: the
    -- older one skipped by the WHERE is stale even when the newer one of the same upsert went in
    -- (two writes that would both go in make Postgres raise, and the slow path takes the chunk).
    v_stale_ids := '{}';
    for r in
      select u.i, u.op_id, u.rid, a.op_id is not null as applied
        from unnest(v_live, v_g_op, v_g_rid) u(i, op_id, rid) left join unnest(v_applied_ops) a(op_id) on a.op_id = u.op_id
    loop
      if r.applied then
        v_out[r.i] := jsonb_build_object('op_id', r.op_id, 'status', 'applied');
      else
        v_stale_ids := v_stale_ids || r.op_id;
      end if;
    end loop;
    if v_tombs_found and cardinality(v_applied) > 0 then
      delete from public.ccm_tombstones t where t.system_id = sys and t.table_name = g.tbl and t.record_id = any (v_applied);
    end if;
    if cardinality(v_stale_ids) > 0 then
      for r in execute format(
          'select u.i, u.op_id, to_jsonb(t) as row
             from unnest($2::int[], $3::text[], $4::text[]) u(i, op_id, rid)
             join public.%I t on t.system_id = $1 and t.id = u.rid
            where u.op_id = any ($5)', g.tbl)
          using sys, v_live, v_g_op, v_g_rid, v_stale_ids loop
        v_out[r.i] := jsonb_build_object('op_id', r.op_id, 'status', 'stale', 'remote', r.row);
      end loop;
    end if;
  end loop;

  insert into public.ccm_sync_ledger (op_id, system_id, table_name, record_id, result)
  select u.op_id::uuid, sys, u.tbl, u.rid, u.res ->> 'status'
    from unnest(v_opid, v_tbl, v_rid, v_out) u(op_id, tbl, rid, res)
   where u.res ->> 'status' in ('applied', 'stale')
  on conflict (op_id) do nothing;
  if exists (select 1 from unnest(v_src) x where x <> '[]'::jsonb) then
    insert into public.ccm_sync_ledger (op_id, system_id, table_name, record_id, result)
    select y::uuid, sys, u.tbl, u.rid, u.res ->> 'status'
      from unnest(v_tbl, v_rid, v_out, v_src) u(tbl, rid, res, src)
     cross join lateral jsonb_array_elements_text(u.src) y
     where u.res ->> 'status' in ('applied', 'stale')
    on conflict (op_id) do nothing;
  end if;

  return to_jsonb(v_out);
end
$$;

create or replace function public.ccm_missing_ops(op_ids jsonb) returns jsonb
language sql stable security invoker set search_path = public, pg_temp as $$
  select coalesce(jsonb_agg(x.id), '[]'::jsonb)
    from unnest(array(select jsonb_array_elements_text(op_ids))::uuid[]) x(id)
   where not exists (select 1 from public.ccm_sync_ledger l where l.op_id = x.id)
$$;
