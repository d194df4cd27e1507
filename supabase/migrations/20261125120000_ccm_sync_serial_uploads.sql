-- One batch_sync at a time per system.
--
-- batch_sync tells a re-upload from a first upload by reading the ledger before it writes. Two
-- calls carrying the same operations at once (a client that gave up on a call the server still
-- runs, then retried it on another connection) would both read the ledger before either commits,
-- and both apply. A transaction-scoped advisory lock on the caller's system id makes the second
-- call wait for the first to commit; it then finds the ledger rows and answers `duplicate`.
-- A system uploads one batch at a time anyway, so the lock costs nothing in the normal case.
-- batch_sync is otherwise unchanged from 20261125000000_ccm_sync.sql; redefining it whole keeps
-- this file safe to apply again.

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
  -- One call at a time per system (see the top of this file).
  perform pg_advisory_xact_lock(hashtext('ccm-sync batch_sync'), hashtext(v_claim));
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
