/**
 * The remote URLs from the environment, checked before any connection is tried: a malformed one
 * would otherwise surface as a DNS failure for a made-up host name. The messages name the variable
 * and the expected form, never the value (it may hold a password).
 */
import { ConfigError } from '../errors.ts';

function parse(variable: string, value: string, expected: string): URL {
  try {
    return new URL(value);
  } catch {
    throw new ConfigError(`${variable} is not a valid URL; expected ${expected}`);
  }
}

export function checkDatabaseUrl(value: string | undefined): string {
  const expected = 'postgres://user:password@host:5432/database (or postgresql://…)';
  if (!value) throw new ConfigError(`remote.kind is postgres but CCM_SYNC_DATABASE_URL is not set; export it: ${expected}`);
  const url = parse('CCM_SYNC_DATABASE_URL', value, expected);
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`CCM_SYNC_DATABASE_URL must be a postgres:// or postgresql:// URL, not ${url.protocol}//; expected ${expected}`);
  }
  if (!url.hostname && !url.searchParams.has('host')) throw new ConfigError(`CCM_SYNC_DATABASE_URL names no host; expected ${expected}`);
  return value;
}

/**
 * The URL node-postgres is given. It takes sslmode=require and prefer as verify-full (the server's
 * certificate checked, as libpq's verify-full does) and warns so on stderr at every start; saying
 * verify-full keeps that meaning, which its next major version would weaken, without the warning.
 */
export function pgConnectionString(value: string): string {
  const url = new URL(value);
  const mode = url.searchParams.get('sslmode');
  // uselibpqcompat asks node-postgres for libpq's meaning (require: encrypted, not verified): as given.
  if ((mode !== 'require' && mode !== 'prefer') || url.searchParams.has('uselibpqcompat')) return value;
  url.searchParams.set('sslmode', 'verify-full');
  return url.href;
}

export function checkSupabaseUrl(value: string): string {
  const expected = 'https://<project-ref>.supabase.co';
  const url = parse('SUPABASE_URL', value, expected);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(`SUPABASE_URL must be an http(s) URL, not ${url.protocol}//; expected ${expected}`);
  // fetch refuses a URL with credentials in it, which would read as a network failure
  if (url.username || url.password) throw new ConfigError(`SUPABASE_URL must not hold a user name or password (the project's keys go in SUPABASE_PUBLISHABLE_KEY and CCM_SYNC_ACCESS_TOKEN); expected ${expected}`);
  return value;
}
