/**
 * Picks and opens the transport the settings name. Each transport module is imported only when
 * chosen, so commands that never upload (enqueue, status) never load a remote client.
 */
import { ConfigError } from '../errors.ts';
import type { Settings } from '../config/load.ts';
import type { Transport } from './transport.ts';
import { checkDatabaseUrl } from './urls.ts';

export type { Transport } from './transport.ts';

export type RemoteSettings = Pick<Settings, 'remote' | 'secrets' | 'paths' | 'system'> & { sync: Pick<Settings['sync'], 'request_timeout_ms'> };

export async function openTransport(s: RemoteSettings): Promise<Transport> {
  const timeoutMs = s.sync.request_timeout_ms;
  switch (s.remote.kind) {
    case 'embedded': {
      const { EmbeddedTransport } = await import('./embedded.ts');
      return EmbeddedTransport.open(s.paths.embedded, s.system.id, s.remote.schema);
    }
    case 'postgres': {
      const connectionString = checkDatabaseUrl(s.secrets.databaseUrl);
      const { PostgresTransport } = await import('./postgres.ts');
      return new PostgresTransport({ connectionString, systemId: s.system.id, timeoutMs, schema: s.remote.schema });
    }
    case 'supabase': {
      const missing = [
        ['SUPABASE_URL', s.secrets.supabaseUrl],
        ['SUPABASE_ANON_KEY', s.secrets.supabaseAnonKey],
        ['CCM_SYNC_ACCESS_TOKEN', s.secrets.accessToken],
      ].filter(([, v]) => !v).map(([k]) => k);
      if (missing.length) throw new ConfigError(`remote.kind is supabase but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set; export them (see README: Connecting Supabase)`);
      const { SupabaseTransport } = await import('./supabase.ts');
      return new SupabaseTransport({ url: s.secrets.supabaseUrl!, anonKey: s.secrets.supabaseAnonKey!, accessToken: s.secrets.accessToken!, timeoutMs, schema: s.remote.schema });
    }
  }
}
