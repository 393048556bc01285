// etcdserverpb.Maintenance: Status, Hash, HashKV, Defragment, Snapshot, MoveLeader, Alarm,
// Downgrade, on qmesh's LMDB store.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { QmeshNode } from "../../node/node.ts";
import { type ApiContext, type Reply, responseHeader, unary } from "./context.ts";
import { toRpcError } from "./errors.ts";
import { EtcdErrors, RpcError } from "./etcd_errors.ts";
import { int64 } from "./int64.ts";
import { type AlarmRequestPb, alarm, alarmText } from "./maintenance_alarm.ts";

/** What `etcdctl endpoint status` prints: the etcd API level we speak, and that it is qmesh. */
export const SERVER_VERSION = "3.4.23-qmesh";
const SNAPSHOT_CHUNK_BYTES = 32 * 1024;
const LEADER_TRANSFER_TIMEOUT_MS = 7_000;

/**
 * qmesh's state digest as a uint32. etcd's Hash/HashKV are CRC32s over its bbolt keys; ours is
 * the first 32 bits of the SHA-256 of the whole replicated MVCC state (history, leases,
 * revisions, compaction point, applied index): equal on members that applied the same log
 * prefix, so `etcdctl endpoint hashkv` compares members as with etcd.
 */
function stateHash32(node: QmeshNode): number {
  return Number.parseInt(node.kv.hashState().slice(0, 8), 16);
}

let exports = 0;

export function maintenanceService(ctx: ApiContext): grpc.UntypedServiceImplementation {
  const { node } = ctx;
  return {
    Status: unary(async () => {
      const status = node.status();
      const size = node.kv.dbSize();
      return {
        response: {
          header: responseHeader(node),
          version: SERVER_VERSION,
          dbSize: size.total,
          dbSizeInUse: size.inUse,
          leader: status.leader,
          raftIndex: status.commitIndex,
          raftTerm: status.term,
          raftAppliedIndex: status.appliedIndex,
          errors: node.kv.alarms.map(alarmText),
          isLearner: status.isLearner,
        },
      };
    }),
    Hash: unary(async (_pb, call) => {
      ctx.auth.checkAdmin(call.metadata);
      return { response: { header: responseHeader(node), hash: stateHash32(node) } };
    }),
    HashKV: unary(async (pb: { revision: string }, call) => {
      ctx.auth.checkAdmin(call.metadata);
      // The digest covers the current state only: a past revision cannot be hashed.
      const revision = int64(pb.revision);
      const current = node.kv.revision;
      if (revision > current) throw EtcdErrors.futureRev;
      if (revision !== 0 && revision < current) {
        throw new RpcError(
          grpc.status.INVALID_ARGUMENT,
          `qmesh hashes the current revision (${current}) only; pass revision 0`,
        );
      }
      return {
        response: {
          header: responseHeader(node),
          hash: stateHash32(node),
          compact_revision: node.kv.compactRevision,
          hash_revision: current,
        },
      };
    }),
    // LMDB reuses freed pages for later writes and never shrinks the file, so there is nothing
    // to rewrite: defragmenting flushes the store to disk and succeeds.
    Defragment: unary(async (_pb, call) => {
      ctx.auth.checkAdmin(call.metadata);
      await node.kv.sync();
      return { response: { header: responseHeader(node) } };
    }),
    MoveLeader: unary(async (pb: { targetID: string }, call): Promise<Reply<object>> => {
      ctx.auth.checkAdmin(call.metadata);
      const target = Number(pb.targetID);
      if (!node.isLeader) throw EtcdErrors.notLeader;
      if (!node.confState().voters.includes(target)) throw EtcdErrors.badLeaderTransferee;
      if (target !== node.id) {
        node.transferLeadership(target);
        const deadline = performance.now() + LEADER_TRANSFER_TIMEOUT_MS;
        while (node.leaderId !== target) {
          if (performance.now() > deadline) {
            throw new RpcError(
              grpc.status.UNAVAILABLE,
              "etcdserver: request timed out, leader transfer took too long",
            );
          }
          await new Promise((resolve) => setTimeout(resolve, node.config.tickMs));
        }
      }
      return { response: { header: responseHeader(node) } };
    }),
    Alarm: unary(async (pb: AlarmRequestPb, call) => alarm(ctx, pb, call.metadata)),
    Downgrade: unary(async () => {
      throw new RpcError(
        grpc.status.UNIMPLEMENTED,
        "qmesh does not support cluster downgrade: run the same qmesh version on every member",
      );
    }),
    Snapshot: (call: grpc.ServerWritableStream<object, object>) => {
      try {
        ctx.auth.checkAdmin(call.metadata);
      } catch (error) {
        call.destroy(asServiceError(error as Error));
        return;
      }
      streamSnapshot(node, call).catch((error: Error) => call.destroy(asServiceError(error)));
    },
  };
}

function asServiceError(error: Error): Error {
  const rpc = toRpcError(error);
  return Object.assign(new Error(rpc.message), { code: rpc.code, details: rpc.message });
}

/**
 * A consistent LMDB copy of this member's store, in chunks, then the SHA-256 of the copy (etcd
 * appends one to its bolt snapshot). etcdctl writes it all to its file; `etcdctl snapshot
 * status` cannot read it (it is LMDB, not bbolt): strip the last 32 bytes to get the LMDB file.
 */
async function streamSnapshot(
  node: QmeshNode,
  call: grpc.ServerWritableStream<object, object>,
): Promise<void> {
  const path = join(node.config.dataDir, `.snapshot-export-${process.pid}-${++exports}.mdb`);
  try {
    await node.kv.backup(path);
    const size = (await stat(path)).size;
    const digest = createHash("sha256");
    let remaining = size + 32;
    const header = responseHeader(node);
    for await (const chunk of createReadStream(path, { highWaterMark: SNAPSHOT_CHUNK_BYTES })) {
      if (call.cancelled) return;
      const blob = chunk as Buffer;
      digest.update(blob);
      remaining -= blob.length;
      if (!call.write({ header, remaining_bytes: remaining, blob, version: SERVER_VERSION })) {
        await new Promise((resolve) => call.once("drain", resolve));
      }
    }
    call.write({ header, remaining_bytes: 0, blob: digest.digest(), version: SERVER_VERSION });
    call.end();
  } finally {
    await rm(path, { force: true });
  }
}
