// v3lockpb.Lock: etcd's distributed lock. Lock puts <name>/<lease hex> with the lease and waits
// until every key under <name>/ created before it is gone; the key held is the lock. Unlock
// deletes that key; the lease expiring releases it too.
import * as grpc from "@grpc/grpc-js";
import { EMPTY_BYTES, prefixEnd } from "../../kv/index.ts";
import {
  callSignal,
  createdAt,
  firstCreated,
  getKey,
  ownKey,
  put,
  rangeAt,
  sessionLease,
  txn,
  waitDeletes,
} from "./concurrency.ts";
import { type ApiContext, type ResponseHeader, responseHeader, unary } from "./context.ts";
import { EtcdErrors, RpcError } from "./etcd_errors.ts";
import { int64 } from "./int64.ts";
import { applied, asUser } from "./kv_service.ts";

/** clientv3/concurrency's ErrSessionExpired: the lease ended while waiting for the lock. */
const sessionExpired = new RpcError(grpc.status.UNKNOWN, "session expired");

export function lockService(ctx: ApiContext): grpc.UntypedServiceImplementation {
  const { node } = ctx;

  const unlock = async (key: Uint8Array, user: string) =>
    applied(
      node,
      await node.propose(
        asUser({ op: "deleteRange", key, rangeEnd: EMPTY_BYTES, prevKv: false }, user),
      ),
    );

  return {
    Lock: unary(async (pb: { name: Buffer; lease: string }, call) => {
      const prefix = Buffer.concat([pb.name, Buffer.from("/")]);
      const signal = callSignal(call);
      const lease = await sessionLease(node, int64(pb.lease));
      const key = ownKey(prefix, lease);
      const user = ctx.auth.checkKeys(call.metadata, [
        { key: prefix, rangeEnd: prefixEnd(prefix), write: false },
        { key, rangeEnd: EMPTY_BYTES, write: true },
      ]);
      // Queue up (or find our key from an earlier Lock on this lease) and read the holder.
      const { header, response } = await txn(
        node,
        {
          compare: [createdAt(key, 0)],
          success: [put(key, EMPTY_BYTES, lease), firstCreated(prefix)],
          failure: [getKey(key), firstCreated(prefix)],
        },
        user,
      );
      const myRevision = response.succeeded
        ? header.revision
        : (rangeAt(response, 0)[0]?.createRevision ?? header.revision);
      const owner = rangeAt(response, 1)[0];
      if (owner === undefined || owner.createRevision === myRevision) {
        return { response: { header, key } };
      }
      let held: ResponseHeader;
      try {
        held = await waitDeletes(node, prefix, myRevision - 1, signal);
        // Our key goes with the lease: if it expired while we waited, we hold nothing.
        const mine = await node.range({ key }, false);
        if (mine.kvs.length === 0) throw sessionExpired;
      } catch (error) {
        await unlock(key, user).catch(() => undefined);
        throw error;
      }
      return { response: { header: held, key } };
    }),

    Unlock: unary(async (pb: { key: Buffer }, call) => {
      const user = ctx.auth.checkKeys(call.metadata, [
        { key: pb.key, rangeEnd: EMPTY_BYTES, write: true },
      ]);
      if (pb.key.length === 0) throw EtcdErrors.emptyKey;
      const done = await unlock(pb.key, user);
      return {
        response: { header: responseHeader(node, done.revision) },
        ledgerIndex: done.ledgerIndex,
      };
    }),
  };
}
