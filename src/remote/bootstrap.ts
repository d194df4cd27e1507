/**
 * What Supabase provides and plain Postgres or PGlite lack: the roles anon, authenticated and
 * service_role (which bypasses row-level security, as on Supabase: the fleet view reads every
 * system's rows with it), and auth.jwt(), which reads the claims PostgREST puts in
 * `request.jwt.claims`. It runs as a superuser.
 * `ccm-sync remote migrate` and the tests run this before the migration. It is never part of the
 * migration itself, which must apply unchanged to a real Supabase project.
 */
export const BOOTSTRAP_SQL = `
do $$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    if not exists (select 1 from pg_roles where rolname = r) then
      begin
        execute format('create role %I nologin noinherit', r);
      exception when duplicate_object or unique_violation then
        null; -- created concurrently by another session
      end;
    end if;
  end loop;
  if not (select rolbypassrls from pg_roles where rolname = 'service_role') then
    alter role service_role bypassrls;
  end if;
end
$$;
create schema if not exists auth;
create or replace function auth.jwt() returns jsonb
language sql stable as $fn$
  select coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                  nullif(current_setting('request.jwt.claims', true), ''))::jsonb
$fn$;
grant usage on schema auth to anon, authenticated, service_role;
grant usage on schema public to anon, authenticated, service_role;
grant execute on function auth.jwt() to anon, authenticated, service_role;
`;
