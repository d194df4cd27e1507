/**
 * Reading the remote as its owner, for `fleet`, `report`, `doctor` and the dashboard's fleet view:
 * through a transport of this process's own, or, when this home's running daemon holds the embedded
 * remote open (one process at a time may open it: ./embedded.ts), through the daemon's read-only
 * query route (`POST /api/remote/query`), which runs it on the daemon's own connection.
 */
import { answerRows } from './query-answer.ts';
import { embeddedHolder } from './embedded.ts';
import type { SqlRunner } from './migrations.ts';
import { checkSchemaName } from './migrations.ts';
import { checkInfo, type QueryAnswer } from './transport.ts';
import type { Settings } from '../config/load.ts';

export interface OwnerReader {
  query: SqlRunner['query'];
  /** The daemon's pid when the reads go through it. */
  viaDaemon?: number;
  close(): Promise<void>;
}

/** The running daemon of this home, if there is one that answers for `holder`. */
async function daemonOf(s: Settings, holder: number) {
  const [{ findDaemon }, { openLocal }] = await Promise.all([import('../daemon/client.ts'), import('../local.ts')]);
  const local = openLocal(s, undefined, { readonly: true });
  try {
    const daemon = findDaemon(s, local.state);
    return daemon && local.state.get('daemon')?.pid === holder ? daemon : undefined;
  } finally {
    local.close();
  }
}

export async function openOwnerReader(s: Settings): Promise<OwnerReader> {
  const holder = s.remote.kind === 'embedded' ? embeddedHolder(s.paths.embedded) : undefined;
  const daemon = holder === undefined ? undefined : await daemonOf(s, holder);
  if (daemon) {
    const timeoutMs = s.sync.request_timeout_ms;
    return {
      viaDaemon: holder,
      query: async <T>(sql: string, params: unknown[] = []) =>
        answerRows(await daemon.call<QueryAnswer>('POST', '/api/remote/query', { sql, params, timeout_ms: timeoutMs }, timeoutMs + 10_000)) as T[],
      close: async () => undefined,
    };
  }
  const { openTransport } = await import('./index.ts');
  const t = await openTransport(s); // a held embedded remote without its daemon: the lock's error says whose it is
  const runner = t as unknown as SqlRunner;
  return { query: (sql, params) => runner.query(sql, params), close: () => t.close() };
}

/** The ccm-sync schema the remote speaks (ccm_sync_info), read through `reader`. */
export async function schemaOf(reader: OwnerReader, s: Settings): Promise<number> {
  const [row] = await reader.query<{ r: unknown }>(`select ${checkSchemaName(s.remote.schema)}.ccm_sync_info() as r`);
  return checkInfo(s.remote.kind, row?.r ?? null).schema;
}
