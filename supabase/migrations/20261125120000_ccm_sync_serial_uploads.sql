-- One batch_sync at a time per system.
--
-- batch_sync tells a re-upload from a first upload by reading the ledger before it writes. Two
-- calls carrying the same operations at once (a client that gave up on a call the server still
-- runs, then retried it on another connection) would both read the ledger before either commits,
-- and both apply. A transaction-scoped advisory lock on the caller's system id makes the second
-- call wait for the first to commit; it then finds the ledger rows and answers `duplicate`.
-- A system uploads one batch at a time anyway, so the lock costs nothing in the normal case.
alter function public.batch_sync(jsonb) rename to ccm_batch_sync_unserialised;
revoke all on function public.ccm_batch_sync_unserialised(jsonb) from public, anon;

create or replace function public.batch_sync(batch jsonb) returns jsonb
language plpgsql security invoker set search_path = public, pg_temp as $$
begin
  -- Keyed by the caller's claim: a caller can only ever wait on its own system's uploads.
  perform pg_advisory_xact_lock(hashtext('ccm-sync batch_sync'), hashtext(coalesce(auth.jwt() ->> 'system_id', '')));
  return public.ccm_batch_sync_unserialised(batch);
end
$$;
revoke all on function public.batch_sync(jsonb) from public, anon;
grant execute on function public.batch_sync(jsonb) to authenticated, service_role;
