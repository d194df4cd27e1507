/**
 * Picks and opens the transport the settings name. Each transport module is imported only when
 * chosen, so commands that never upload (enqueue, status) never load a remote client.
 */
import { ConfigError } from '../errors.ts';
import type { Settings } from '../config/load.ts';
import type { Transport } from './transport.ts';
import { checkDatabaseUrl, checkSupabaseUrl } from './urls.ts';
import { AccessToken, describeSource, noticeOnce, refuseAdminCredential, tokenOptions } from './credentials.ts';

export type { Transport } from './transport.ts';

export type RemoteSettings = Pick<Settings, 'remote' | 'secrets' | 'paths' | 'system'> & { sync: Pick<Settings['sync'], 'request_timeout_ms'> };

/**
 * What the remote needs from the environment, checked without connecting: the URL and, on
 * Supabase, the key and the token. A ConfigError names what is missing or wrong. The daemon and
 * `service install` check this first, so that a daemon that could never sync does not start.
 */
export function checkRemoteSecrets(s: RemoteSettings): void {
  switch (s.remote.kind) {
    case 'embedded':
      return;
    case 'postgres':
      checkDatabaseUrl(s.secrets.databaseUrl);
      return;
    case 'supabase': {
      const tokens = tokenOptions(s);
      const missing = [
        ['SUPABASE_URL', s.secrets.supabaseUrl],
        ['SUPABASE_PUBLISHABLE_KEY', s.secrets.publishableKey],
        ['CCM_SYNC_ACCESS_TOKEN (or remote.access_token_file, remote.access_token_command)', tokens.value ?? tokens.file ?? tokens.command],
      ].filter(([, v]) => !v).map(([k]) => k);
      if (missing.length) throw new ConfigError(`remote.kind is supabase but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set; export them (see README: Connecting a Supabase project)`);
      checkSupabaseUrl(s.secrets.supabaseUrl!);
      refuseAdminCredential(s.secrets.publishableKey, s.secrets.publishableKeyVar, tokens.command || tokens.file ? undefined : tokens.value, describeSource(tokens));
    }
  }
}

export async function openTransport(s: RemoteSettings): Promise<Transport> {
  const timeoutMs = s.sync.request_timeout_ms;
  checkRemoteSecrets(s);
  switch (s.remote.kind) {
    case 'embedded': {
      const { EmbeddedTransport } = await import('./embedded.ts');
      return EmbeddedTransport.open(s.paths.embedded, s.system.id, s.remote.schema);
    }
    case 'postgres': {
      const connectionString = s.secrets.databaseUrl!;
      const { PostgresTransport } = await import('./postgres.ts');
      return new PostgresTransport({ connectionString, systemId: s.system.id, timeoutMs, schema: s.remote.schema });
    }
    case 'supabase': {
      const tokens = tokenOptions(s);
      noticeOnce(s.secrets.notices.filter((n) => n.startsWith(s.secrets.publishableKeyVar ?? '-')));
      const { SupabaseTransport } = await import('./supabase.ts');
      return new SupabaseTransport({ url: s.secrets.supabaseUrl!, apiKey: s.secrets.publishableKey!, token: new AccessToken(tokens), systemId: s.system.id, timeoutMs, schema: s.remote.schema });
    }
  }
}
