// v3electionpb.Election: etcd's leader election. A campaigner puts <name>/<lease hex> with its
// value and lease; the oldest key under <name>/ is the leader. Proclaim changes the leader's value
// while it still leads, Resign deletes its key, Leader reads the oldest key, Observe streams
// leaders and their values.
import * as grpc from "@grpc/grpc-js";
import type { KeyValue } from "../../kv/index.ts";
import { EMPTY_BYTES, prefixEnd } from "../../kv/index.ts";
import type { QmeshNode } from "../../node/node.ts";
import {
  callSignal,
  createdAt,
  EventQueue,
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
import { toRpcError } from "./errors.ts";
import { RpcError } from "./etcd_errors.ts";
import { int64 } from "./int64.ts";
import { kvToPb } from "./kv_convert.ts";

type Int64 = string;

interface LeaderKeyPb {
  name: Buffer;
  key: Buffer;
  rev: Int64;
  lease: Int64;
}

// clientv3/concurrency's and v3election's error texts.
const noLeader = new RpcError(grpc.status.UNKNOWN, "election: no leader");
const notLeader = new RpcError(grpc.status.UNKNOWN, "election: not leader");
const missingLeaderKey = new RpcError(grpc.status.UNKNOWN, '"leader" field must be provided');

const prefixOf = (name: Uint8Array) => Buffer.concat([name, Buffer.from("/")]);

/** Sets the leader's value if `key` (created at `rev`) still exists; false if it does not. */
async function proclaim(
  node: QmeshNode,
  key: Uint8Array,
  rev: number,
  lease: number,
  value: Uint8Array,
  user: string,
) {
  return txn(
    node,
    { compare: [createdAt(key, rev)], success: [put(key, value, lease)], failure: [] },
    user,
  );
}

async function resign(node: QmeshNode, key: Uint8Array, rev: number, user: string) {
  return txn(
    node,
    {
      compare: [createdAt(key, rev)],
      success: [{ op: "deleteRange", key, rangeEnd: EMPTY_BYTES, prevKv: false }],
      failure: [],
    },
    user,
  );
}

export function electionService(ctx: ApiContext): grpc.UntypedServiceImplementation {
  const { node } = ctx;
  const readable = (metadata: grpc.Metadata, prefix: Uint8Array) =>
    ctx.auth.checkKeys(metadata, [{ key: prefix, rangeEnd: prefixEnd(prefix), write: false }]);

  return {
    Campaign: unary(async (pb: { name: Buffer; lease: Int64; value: Buffer }, call) => {
      const prefix = prefixOf(pb.name);
      const signal = callSignal(call);
      const lease = await sessionLease(node, int64(pb.lease));
      const key = ownKey(prefix, lease);
      const user = ctx.auth.checkKeys(call.metadata, [
        { key: prefix, rangeEnd: prefixEnd(prefix), write: false },
        { key, rangeEnd: EMPTY_BYTES, write: true },
      ]);
      const { header, response } = await txn(
        node,
        {
          compare: [createdAt(key, 0)],
          success: [put(key, pb.value, lease)],
          failure: [getKey(key)],
        },
        user,
      );
      let rev = header.revision;
      if (!response.succeeded) {
        // This lease already campaigns here: keep its place in line, update its value.
        const existing = rangeAt(response, 0)[0];
        if (existing !== undefined) {
          rev = existing.createRevision;
          if (Buffer.compare(existing.value, pb.value) !== 0) {
            const done = await proclaim(node, key, rev, lease, pb.value, user);
            if (!done.response.succeeded) throw notLeader;
          }
        }
      }
      try {
        await waitDeletes(node, prefix, rev - 1, signal);
      } catch (error) {
        if (signal.aborted) await resign(node, key, rev, user).catch(() => undefined);
        throw error;
      }
      return {
        response: {
          header,
          leader: { name: pb.name, key, rev, lease },
        },
      };
    }),

    Proclaim: unary(async (pb: { leader: LeaderKeyPb | null; value: Buffer }, call) => {
      const leader = pb.leader;
      if (leader === null) throw missingLeaderKey;
      const user = ctx.auth.checkKeys(call.metadata, [
        { key: leader.key, rangeEnd: EMPTY_BYTES, write: true },
      ]);
      const done = await proclaim(
        node,
        leader.key,
        int64(leader.rev),
        int64(leader.lease),
        pb.value,
        user,
      );
      if (!done.response.succeeded) throw notLeader;
      return { response: { header: done.header } };
    }),

    Resign: unary(async (pb: { leader: LeaderKeyPb | null }, call) => {
      const leader = pb.leader;
      if (leader === null) throw missingLeaderKey;
      const user = ctx.auth.checkKeys(call.metadata, [
        { key: leader.key, rangeEnd: EMPTY_BYTES, write: true },
      ]);
      // Resigning a leadership already lost is not an error (etcd).
      const done = await resign(node, leader.key, int64(leader.rev), user);
      return { response: { header: done.header } };
    }),

    Leader: unary(async (pb: { name: Buffer }, call) => {
      const prefix = prefixOf(pb.name);
      readable(call.metadata, prefix);
      const { op: _, ...oldest } = firstCreated(prefix);
      const found = await node.range(oldest, false);
      const kv = found.kvs[0];
      if (kv === undefined) throw noLeader;
      return { response: { header: responseHeader(node, found.revision), kv: kvToPb(kv) } };
    }),

    Observe: (call: grpc.ServerWritableStream<{ name: Buffer }, object>) => {
      const prefix = prefixOf(call.request.name);
      try {
        readable(call.metadata, prefix);
      } catch (error) {
        const rpc = toRpcError(error as Error);
        call.emit("error", { code: rpc.code, details: rpc.message });
        return;
      }
      const signal = callSignal(call);
      observe(node, prefix, signal, (header, kv) => call.write({ header, kv: kvToPb(kv) })).then(
        () => call.end(),
        (error: Error) => {
          if (signal.aborted) return;
          const rpc = toRpcError(error);
          call.emit("error", { code: rpc.code, details: rpc.message });
        },
      );
    },
  };
}

/** etcd's Election.observe: the current leader, then its value changes; when its key goes, the
 * next leader (waiting for a first campaigner if there is none). Runs until `signal` aborts. */
async function observe(
  node: QmeshNode,
  prefix: Uint8Array,
  signal: AbortSignal,
  emit: (header: ResponseHeader, kv: KeyValue) => void,
): Promise<void> {
  while (!signal.aborted) {
    const { op: _, ...oldest } = firstCreated(prefix);
    const found = await node.range(oldest, false);
    let kv = found.kvs[0];
    let revision = found.revision;
    if (kv === undefined) {
      const queue = new EventQueue(
        node,
        {
          key: prefix,
          rangeEnd: prefixEnd(prefix),
          startRevision: found.revision,
          prevKv: false,
          filters: { noDelete: true },
        },
        signal,
      );
      try {
        const batch = await queue.next();
        kv = batch.events[0]!.kv;
        revision = kv.modRevision;
      } finally {
        queue.close();
      }
    }
    emit(responseHeader(node, revision), kv);
    const queue = new EventQueue(
      node,
      {
        key: kv.key,
        rangeEnd: EMPTY_BYTES,
        startRevision: revision + 1,
        prevKv: false,
        filters: {},
      },
      signal,
    );
    try {
      let deleted = false;
      while (!deleted) {
        const batch = await queue.next();
        for (const event of batch.events) {
          if (event.type === "delete") {
            deleted = true;
            break;
          }
          emit(responseHeader(node, batch.revision), event.kv);
        }
      }
    } finally {
      queue.close();
    }
  }
}
