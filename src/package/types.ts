/**
 * The packaging stage's vocabulary. A packager turns pending outbox rows of the tables it claims
 * into wire operations; every source row is accounted for by exactly one packaged operation (or
 * settled locally), so that settling can mark each one by the outcome of what carried it.
 */
import type { PendingRow } from '../store/outbox.ts';
import type { Db } from '../store/db.ts';
import type { WireOperation } from '../types.ts';

export interface Packaged {
  op: WireOperation;
  sources: PendingRow[];
  /**
   * The sources are aggregated into op (not carried one by one): only op.op_id goes to the remote
   * ledger, and the other sources settle with result 'summarised'. Safe because an aggregate is
   * absolute (recomputed from local detail), so uploading it again changes nothing.
   */
  aggregated?: boolean;
}

/** Rows settled without an upload (coalesced away, skipped by selective sync). */
export interface LocallySettled {
  sources: PendingRow[];
  result: string;
}

export interface PackagerContext {
  db: Db;
  nowIso: string;
  manualTables: ReadonlySet<string>;
  /** Extras a task summary may carry (hooks.upload): prompt texts stay local unless listed. */
  hookUploads?: ReadonlySet<string>;
  /** hooks.paths: hashed: the salt that file paths and repository names are hashed with (hide-paths.ts). */
  pathSalt?: string;
}

export interface Packager {
  readonly name: string;
  /** Source tables this packager consumes. */
  readonly tables: readonly string[];
  package(rows: PendingRow[], ctx: PackagerContext): { packaged: Packaged[]; settled: LocallySettled[] };
}
