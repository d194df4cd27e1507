/**
 * Stage 5, remote (the upload), as a sync run does it: one batch_sync call per batch, in its envelope (the
 * settled watermark, a ledger-prune request when one is due, the heartbeat), checking once per
 * transport that the remote speaks this ccm-sync's schema, and that no other installation syncs as
 * this system (./identity.ts).
 *
 * A batch the remote cancels for its statement timeout (57014) is split in two and each half is
 * sent again, down to a single operation, which is then answered `rejected` with code CCM02 (a
 * dead letter: the same operation would time out again). Nothing of a cancelled call was applied,
 * and the ledger makes every resend safe anyway.
 *
 * A remote of schema 5 or later is asked for compact answers (a result only for the operations that
 * were not simply applied; ./answers.ts expands them): most of a batch's answer is "applied", and
 * building, sending and reading it was a fifth of the remote's time per batch.
 */
import type { Clock } from '../clock.ts';
import { checkInstallation, type Installation } from './identity.ts';
import { COMPACT_ANSWERS_SCHEMA, type Transport } from './transport.ts';
import type { Batch, Heartbeat, RemoteResult, WireOperation } from '../types.ts';

export interface Envelope {
  settled_through?: number;
  prune_ledger?: boolean;
  heartbeat?: Heartbeat;
}

export interface Uploader {
  /** Uploads one batch, splitting it on statement timeouts; one result per operation, in order. */
  upload(ops: readonly WireOperation[], envelope: Envelope, signal?: AbortSignal): Promise<RemoteResult[]>;
}

/** The schema each transport's remote speaks, asked once per transport (ccm_sync_info). */
const schemas = new WeakMap<Transport, number>();

/** `me`: this installation; before the first upload the remote's row must not name another (./identity.ts). */
export function uploader(transport: Transport, systemId: string, clock: Clock, me?: Installation): Uploader {
  const send = async (ops: readonly WireOperation[], envelope: Envelope, signal?: AbortSignal): Promise<RemoteResult[]> => {
    const batch: Batch = { system_id: systemId, sync_timestamp: new Date(clock.now()).toISOString(), operations: [...ops], ...envelope };
    if (schemas.get(transport)! >= COMPACT_ANSWERS_SCHEMA) batch.answers = 'compact';
    try {
      return await transport.upload(batch, signal);
    } catch (err) {
      if ((err as { sqlstate?: string }).sqlstate !== '57014') throw err;
      if (ops.length === 1) {
        return [{
          op_id: ops[0]!.op_id,
          status: 'rejected',
          sqlstate: 'CCM02',
          message: 'the remote\'s statement timeout (57014) cancelled this operation even when it was sent alone; it is too slow to apply there (a large record, a slow trigger, a lock)',
        }];
      }
      const mid = Math.ceil(ops.length / 2);
      // The envelope goes with the first half only: the heartbeat and prune need saying once.
      const first = await send(ops.slice(0, mid), envelope, signal);
      const second = await send(ops.slice(mid), { settled_through: envelope.settled_through }, signal);
      return [...first, ...second];
    }
  };
  return {
    async upload(ops, envelope, signal) {
      if (!schemas.has(transport)) schemas.set(transport, (await transport.info(signal)).schema);
      if (me) await checkInstallation(transport, systemId, me, clock.now(), signal);
      return send(ops, envelope, signal);
    },
  };
}
