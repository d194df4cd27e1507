-- ccm-sync remote schema: the tables a fleet syncs into, the ledger of applied operations, and
-- batch_sync(batch jsonb), the one RPC every upload goes through.
--
-- Apply it to a Supabase project unchanged (SQL editor, `supabase db push`, or psql). It relies on
-- what Supabase provides: the roles anon, authenticated and service_role, and auth.jwt(). On plain
-- Postgres or PGlite, `ccm-sync remote migrate` creates those first (src/remote/bootstrap.ts).
--
-- Isolation: every row carries system_id. Row-level security lets a caller touch only rows whose
-- system_id equals the system_id claim of its JWT, and batch_sync refuses a caller without that
-- claim or a batch for another system. batch_sync runs as the caller (security invoker), so RLS
-- applies to everything it does.
--
-- Last-write-wins: a row's (updated_at, sync_seq) is compared with the operation's
-- (changed_at, seq). seq is the operation's position in its system's local outbox, so two changes
-- of one record in the same millisecond still apply in the order they were recorded. A write
-- without seq (an edit made directly in Supabase) wins ties. Deletes leave a tombstone so that an
-- older upsert that arrives late cannot resurrect the row.

-- ---------------------------------------------------------------------------------------------
-- Synced tables. Common columns: system_id, id, updated_at (the change time of the last write),
-- sync_seq and sync_op_id (which operation wrote it last).
-- ---------------------------------------------------------------------------------------------
create table if not exists public.tasks (
  system_id text not null,
  id text not null,
  title text,
  status text,
  priority text,
  assignee text,
  project text,
  description text,
  metadata jsonb,
  created_at timestamptz,
  completed_at timestamptz,
  updated_at timestamptz not null default now(),
  sync_seq bigint,
  sync_op_id uuid,
  primary key (system_id, id)
);

create table if not exists public.supervisory_reports (
  system_id text not null,
  id text not null,
  task_id text,
  report_type text,
  status text,
  summary text,
  score numeric,
  details jsonb,
  created_at timestamptz,
  updated_at timestamptz not null default now(),
  sync_seq bigint,
  sync_op_id uuid,
  primary key (system_id, id)
);

create table if not exists public.alerts (
  system_id text not null,
  id text not null,
  rule text,
  severity text,
  category text,
  status text,
  message text,
  details jsonb,
  fired_at timestamptz,
  resolved_at timestamptz,
  updated_at timestamptz not null default now(),
  sync_seq bigint,
  sync_op_id uuid,
  primary key (system_id, id)
);

create table if not exists public.contexts (
  system_id text not null,
  id text not null,
  name text,
  path text,
  action text,
  details jsonb,
  registered_at timestamptz,
  updated_at timestamptz not null default now(),
  sync_seq bigint,
  sync_op_id uuid,
  primary key (system_id, id)
);

create table if not exists public.task_summaries (
  system_id text not null,
  id text not null,
  task_id text,
  total_events integer,
  tools_used jsonb,
  files_modified jsonb,
  commands_run jsonb,
  errors jsonb,
  error_count integer,
  duration_seconds numeric,
  first_event_at timestamptz,
  last_event_at timestamptz,
  updated_at timestamptz not null default now(),
  sync_seq bigint,
  sync_op_id uuid,
  primary key (system_id, id)
);

create table if not exists public.system_status (
  system_id text not null,
  id text not null,
  state text,
  previous_state text,
  reason text,
  since timestamptz,
  details jsonb,
  updated_at timestamptz not null default now(),
  sync_seq bigint,
  sync_op_id uuid,
  primary key (system_id, id)
);

-- Every operation id that was applied (or found stale) once. A re-upload after a crash finds its
-- id here and is answered `duplicate` with the first outcome, so nothing is applied twice.
create table if not exists public.ccm_sync_ledger (
  op_id uuid primary key,
  system_id text not null,
  table_name text not null,
  record_id text not null,
  result text not null,
  applied_at timestamptz not null default now()
);
create index if not exists ccm_sync_ledger_system_idx on public.ccm_sync_ledger (system_id, applied_at);

-- Deleted records, so that last-write-wins also holds across a delete.
create table if not exists public.ccm_tombstones (
  system_id text not null,
  table_name text not null,
  record_id text not null,
  deleted_at timestamptz not null,
  sync_seq bigint,
  primary key (system_id, table_name, record_id)
);

-- ---------------------------------------------------------------------------------------------
-- Row-level security: a system sees and writes only its own rows.
-- ---------------------------------------------------------------------------------------------
do $$
declare
  t text;
begin
  foreach t in array array['tasks', 'supervisory_reports', 'alerts', 'contexts', 'task_summaries',
                           'system_status', 'ccm_sync_ledger', 'ccm_tombstones']
  loop
    execute format('alter table public.%I enable row level security', t);
    execute format('drop policy if exists ccm_own_system on public.%I', t);
    -- (select auth.jwt() ...) is evaluated once per statement, not once per row (Supabase's own
    -- advice for RLS performance).
    execute format($p$create policy ccm_own_system on public.%I for all to authenticated
                     using (system_id = (select auth.jwt() ->> 'system_id'))
                     with check (system_id = (select auth.jwt() ->> 'system_id'))$p$, t);
    execute format('revoke all on public.%I from anon', t);
    execute format('grant select, insert, update, delete on public.%I to authenticated, service_role', t);
  end loop;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_is_transient(sqlstate): true for errors worth retrying the whole call for (serialization,
-- deadlock, resources, operator intervention such as statement timeout, connection, internal).
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_is_transient(state text) returns boolean
language sql immutable as $$
  select left(state, 2) in ('40', '53', '57', '58', '08', 'XX') or state = '55P03'
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_apply_op(system_id, op): applies one operation and returns its result object
-- {op_id, status: applied|duplicate|stale|conflict, remote?}. Raises on anything invalid; the
-- caller turns that into `rejected`.
-- op: {op_id, operation, table, record_id, data, changed_at, seq, conflict: lww|manual,
--      force: bool, source_ids: [uuid]}
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_apply_op(sys text, op jsonb) returns jsonb
language plpgsql security invoker set search_path = public, pg_temp as $$
declare
  v_op_id uuid := (op ->> 'op_id')::uuid;
  v_table text := op ->> 'table';
  v_kind text := upper(coalesce(op ->> 'operation', ''));
  v_rid text := op ->> 'record_id';
  v_data jsonb := coalesce(op -> 'data', '{}'::jsonb);
  v_changed timestamptz := (op ->> 'changed_at')::timestamptz;
  v_seq bigint := (op ->> 'seq')::bigint;
  v_mode text := coalesce(op ->> 'conflict', 'lww');
  v_force boolean := coalesce((op ->> 'force')::boolean, false);
  v_prior text;
  v_remote jsonb;
  v_tomb record;
  v_newer boolean := false;
  v_cols text[];
  v_bad text[];
  v_keys text[];
  v_row jsonb;
  v_status text;
begin
  if v_op_id is null then
    raise exception using errcode = '22023', message = 'operation has no op_id';
  end if;
  select l.result into v_prior from public.ccm_sync_ledger l where l.op_id = v_op_id;
  if found then
    return jsonb_build_object('op_id', v_op_id, 'status', 'duplicate', 'first_status', v_prior);
  end if;
  if v_table is null or v_table not in ('tasks', 'supervisory_reports', 'alerts', 'contexts',
                                        'task_summaries', 'system_status') then
    raise exception using errcode = '22023',
      message = format('table %L is not synced by ccm-sync', v_table),
      hint = 'Allowed tables: tasks, supervisory_reports, alerts, contexts, task_summaries, system_status.';
  end if;
  if v_kind not in ('INSERT', 'UPDATE', 'DELETE') then
    raise exception using errcode = '22023', message = format('unknown operation %L', v_kind);
  end if;
  if v_rid is null or v_rid = '' then
    raise exception using errcode = '22023', message = 'operation has no record_id';
  end if;
  if v_changed is null then
    raise exception using errcode = '22023', message = 'operation has no changed_at';
  end if;
  if jsonb_typeof(v_data) <> 'object' then
    raise exception using errcode = '22023', message = 'operation data must be a JSON object';
  end if;

  execute format('select to_jsonb(t) from public.%I t where t.system_id = $1 and t.id = $2 for update', v_table)
    into v_remote using sys, v_rid;
  if v_remote is not null then
    v_newer := ((v_remote ->> 'updated_at')::timestamptz, coalesce((v_remote ->> 'sync_seq')::bigint, 9223372036854775807))
               >= (v_changed, coalesce(v_seq, 0));
  else
    select * into v_tomb from public.ccm_tombstones t
     where t.system_id = sys and t.table_name = v_table and t.record_id = v_rid;
    if found then
      v_newer := (v_tomb.deleted_at, coalesce(v_tomb.sync_seq, 9223372036854775807)) >= (v_changed, coalesce(v_seq, 0));
    end if;
  end if;

  if v_newer and not v_force then
    if v_mode = 'manual' then
      return jsonb_build_object('op_id', v_op_id, 'status', 'conflict', 'remote', v_remote);
    end if;
    v_status := 'stale';
  elsif v_kind = 'DELETE' then
    execute format('delete from public.%I t where t.system_id = $1 and t.id = $2', v_table) using sys, v_rid;
    insert into public.ccm_tombstones as t (system_id, table_name, record_id, deleted_at, sync_seq)
    values (sys, v_table, v_rid, v_changed, v_seq)
    on conflict (system_id, table_name, record_id)
    do update set deleted_at = excluded.deleted_at, sync_seq = excluded.sync_seq;
    v_status := 'applied';
  else
    select array_agg(a.attname::text) into v_cols from pg_attribute a
     where a.attrelid = format('public.%I', v_table)::regclass and a.attnum > 0 and not a.attisdropped;
    select array_agg(k) into v_bad from jsonb_object_keys(v_data) k where not (k = any (v_cols));
    if v_bad is not null then
      raise exception using errcode = '42703',
        message = format('table %s has no column(s) %s', v_table, array_to_string(v_bad, ', ')),
        hint = 'Send only the columns of the table, or add them with a migration.';
    end if;
    v_row := (v_data - array['system_id', 'id', 'updated_at', 'sync_seq', 'sync_op_id'])
             || jsonb_build_object('system_id', sys, 'id', v_rid, 'sync_seq', v_seq, 'sync_op_id', v_op_id,
                                   'updated_at', case when v_force and v_remote is not null
                                     then greatest(v_changed, (v_remote ->> 'updated_at')::timestamptz + interval '1 millisecond')
                                     else v_changed end);
    select array_agg(k) into v_keys from jsonb_object_keys(v_row) k;
    execute format(
      'insert into public.%1$I as t (%2$s) select %2$s from jsonb_populate_record(null::public.%1$I, $1)
       on conflict (system_id, id) do update set %3$s',
      v_table,
      (select string_agg(format('%I', k), ', ') from unnest(v_keys) k),
      (select string_agg(format('%1$I = excluded.%1$I', k), ', ') from unnest(v_keys) k where k not in ('system_id', 'id')))
      using v_row;
    delete from public.ccm_tombstones t where t.system_id = sys and t.table_name = v_table and t.record_id = v_rid;
    v_status := 'applied';
  end if;

  insert into public.ccm_sync_ledger (op_id, system_id, table_name, record_id, result)
  select s.id, sys, v_table, v_rid, v_status
    from (select v_op_id as id
          union
          select (x)::uuid from jsonb_array_elements_text(coalesce(op -> 'source_ids', '[]'::jsonb)) x) s
  on conflict (op_id) do nothing;

  if v_status = 'stale' then
    return jsonb_build_object('op_id', v_op_id, 'status', 'stale', 'remote', v_remote);
  end if;
  return jsonb_build_object('op_id', v_op_id, 'status', v_status);
end
$$;

-- ---------------------------------------------------------------------------------------------
-- ccm_apply_fast(system_id, ops): the set-based path for the common case, plain upserts under
-- last-write-wins. One INSERT … ON CONFLICT DO UPDATE … WHERE (older) per table and column set;
-- RETURNING tells applied from stale. Returns a JSON array aligned with ops: a result object for
-- each operation it settled, null for each it leaves to ccm_apply_op (deletes, manual review,
-- forced writes, unknown columns, tables outside the allowlist). Raises on anything unexpected
-- (a type error, one record twice): the caller then sends the whole chunk down the slow path.
-- ---------------------------------------------------------------------------------------------
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

  -- Already applied: answer duplicate with the first outcome.
  for r in
    select u.i::int as i, u.id, l.result
      from unnest(v_opid) with ordinality u(id, i)
      join public.ccm_sync_ledger l on l.op_id = u.id::uuid
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

-- ---------------------------------------------------------------------------------------------
-- batch_sync(batch): the upload RPC.
-- batch: {system_id, sync_timestamp, operations: [op, ...]} (op as for ccm_apply_op)
-- returns: a JSON array with one result per operation, in order:
--   {op_id, status: applied|duplicate|stale|conflict|rejected, sqlstate?, message?, remote?}
-- One bad operation is answered `rejected` and does not fail the batch; a transient error fails the
-- whole call so the client retries it.
-- Cost: plain upserts go through ccm_apply_fast, one subtransaction per 500 operations. What it
-- leaves (deletes, manual review, forced writes, or a chunk it could not take because one
-- operation in it is bad) goes through ccm_apply_op in chunks of 50, each one subtransaction,
-- and only a chunk that fails is redone one operation per subtransaction. A clean 500-operation
-- batch thus costs one subtransaction, far under the 64 Postgres caches per transaction.
-- ---------------------------------------------------------------------------------------------
create or replace function public.batch_sync(batch jsonb) returns jsonb
language plpgsql security invoker set search_path = public, pg_temp as $$
declare
  v_claim text := auth.jwt() ->> 'system_id';
  v_sys text := batch ->> 'system_id';
  v_ops jsonb := coalesce(batch -> 'operations', '[]'::jsonb);
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
  if v_claim is null or v_claim = '' then
    raise exception using errcode = '42501',
      message = 'batch_sync: the caller''s JWT has no system_id claim',
      hint = 'Give each system a JWT with a system_id claim (see `ccm-sync remote token`).';
  end if;
  if v_sys is distinct from v_claim then
    raise exception using errcode = '42501',
      message = format('batch_sync: batch is for system %L but the caller''s JWT is for system %L', v_sys, v_claim);
  end if;
  if jsonb_typeof(v_ops) <> 'array' then
    raise exception using errcode = '22023', message = 'batch_sync: operations must be an array';
  end if;
  v_n := jsonb_array_length(v_ops);
  if v_n = 0 then
    return '[]'::jsonb;
  end if;
  -- Fast path, 500 operations at a time; v_res grows by one chunk of answers (null: not settled
  -- here) per step.
  v_res := '{}';
  v_i := 0;
  while v_i < v_n loop
    begin
      v_fast := public.ccm_apply_fast(v_sys, case when v_n <= 500 then v_ops
        else (select jsonb_agg(e order by o) from jsonb_array_elements(v_ops) with ordinality t(e, o) where o > v_i and o <= v_i + 500) end);
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
        v_chunk_res := v_chunk_res || public.ccm_apply_op(v_sys, v_ops -> (v_k - 1));
      end loop;
    exception when others then
      if public.ccm_is_transient(sqlstate) then
        raise;
      end if;
      v_chunk_res := '{}';
      foreach v_k in array v_chunk loop
        begin
          v_chunk_res := v_chunk_res || public.ccm_apply_op(v_sys, v_ops -> (v_k - 1));
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

-- ccm_ping(): a cheap connectivity probe for the offline detector.
create or replace function public.ccm_ping() returns timestamptz
language sql stable security invoker as $$ select now() $$;

revoke all on function public.batch_sync(jsonb) from public, anon;
revoke all on function public.ccm_apply_op(text, jsonb) from public, anon;
revoke all on function public.ccm_apply_fast(text, jsonb) from public, anon;
grant execute on function public.ccm_apply_fast(text, jsonb) to authenticated, service_role;
grant execute on function public.batch_sync(jsonb) to authenticated, service_role;
grant execute on function public.ccm_apply_op(text, jsonb) to authenticated, service_role;
grant execute on function public.ccm_ping() to anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- ccm_missing_ops(op_ids): which of these operation ids the ledger does not hold (for the caller's
-- own system; RLS hides the rest). Used by `ccm-sync test offline` to verify a drain.
-- op_ids: JSON array of uuids. Returns: JSON array of the missing ones.
-- ---------------------------------------------------------------------------------------------
create or replace function public.ccm_missing_ops(op_ids jsonb) returns jsonb
language sql stable security invoker set search_path = public, pg_temp as $$
  select coalesce(jsonb_agg(x), '[]'::jsonb)
    from jsonb_array_elements_text(op_ids) x
   where not exists (select 1 from public.ccm_sync_ledger l where l.op_id = x::uuid)
$$;
revoke all on function public.ccm_missing_ops(jsonb) from public, anon;
grant execute on function public.ccm_missing_ops(jsonb) to authenticated, service_role;
