// etcdserverpb.Lease: LeaseGrant, LeaseRevoke, LeaseKeepAlive (a stream), LeaseTimeToLive,
// LeaseLeases. Renewals and remaining TTLs are the leader's; a follower forwards them.
import * as grpc from "@grpc/grpc-js";
import { EMPTY_BYTES, LeaseNotFoundError, LeaseNotPrimaryError } from "../../kv/index.ts";
import { NotLeaderError, type QmeshNode } from "../../node/node.ts";
import { type ApiContext, type Reply, responseHeader, unary } from "./context.ts";
import { toRpcError } from "./errors.ts";
import { EtcdErrors, RpcError } from "./etcd_errors.ts";
import { applied } from "./kv_service.ts";
import type { LeaderLink } from "./leader_link.ts";

type Int64 = string;

/** etcd's lease.MaxLeaseTTL (seconds). */
const MAX_LEASE_TTL = 9_000_000_000;

/** etcd's minimum TTL: 1.5 election timeouts, rounded up to whole seconds. A shorter lease could
 * expire during a leader change before the new leader has seen a keep-alive. */
export function minLeaseTtl(node: QmeshNode): number {
  return Math.ceil((1.5 * node.config.electionTicks * node.config.tickMs) / 1000);
}

/** A lease id from the wire: 0 (none), or a positive integer below 2^53 (qmesh's ids). */
function leaseId(value: Int64): number {
  const n = Number(value);
  if (value === "" || n === 0) return 0;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RpcError(
      grpc.status.INVALID_ARGUMENT,
      "etcdserver: lease ids in qmesh are positive integers below 2^53",
    );
  }
  return n;
}

/** For lookups: an id qmesh cannot hold names no lease, so it is simply not found. */
function lookupId(value: Int64): number {
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : -1;
}

/** `leader` forwards renewals from a follower; the caller closes it with the server. */
export function leaseService(
  ctx: ApiContext,
  leader: LeaderLink,
): grpc.UntypedServiceImplementation {
  const { node } = ctx;

  /** Renews on this member if it leads, else on the leader. Unknown lease → TTL 0, as etcd. */
  const renew = async (id: number): Promise<number> => {
    try {
      if (id <= 0) return 0;
      if (node.isLeader) return node.leaseKeepAlive(id);
      return await leader.renew(id);
    } catch (error) {
      if (error instanceof LeaseNotFoundError) return 0;
      if (error instanceof NotLeaderError || error instanceof LeaseNotPrimaryError) {
        return leader.renew(id);
      }
      throw error;
    }
  };

  return {
    LeaseGrant: unary(async (pb: { TTL: Int64; ID: Int64 }) => {
      const requested = Number(pb.TTL);
      if (requested > MAX_LEASE_TTL) throw EtcdErrors.leaseTtlTooLarge;
      const ttl = Math.max(Number.isFinite(requested) ? requested : 0, minLeaseTtl(node));
      const id = leaseId(pb.ID) || node.newLeaseId();
      const done = applied(node, await node.propose({ op: "leaseGrant", id, ttlSeconds: ttl }));
      return {
        response: { header: responseHeader(node, done.revision), ID: id, TTL: ttl, error: "" },
        ledgerIndex: done.ledgerIndex,
      };
    }),

    LeaseRevoke: unary(async (pb: { ID: Int64 }, call) => {
      const id = lookupId(pb.ID);
      if (id <= 0) throw EtcdErrors.leaseNotFound;
      // Revoking deletes the lease's keys: with auth on, the caller must be allowed to.
      const keys = node.kv.leases.timeToLive(id, performance.now())?.keys ?? [];
      ctx.auth.checkKeys(
        call.metadata,
        keys.map((key) => ({ key, rangeEnd: EMPTY_BYTES, write: true })),
      );
      const done = applied(node, await node.propose({ op: "leaseRevoke", id }));
      return {
        response: { header: responseHeader(node, done.revision) },
        ledgerIndex: done.ledgerIndex,
      };
    }),

    LeaseKeepAlive: (call: grpc.ServerDuplexStream<{ ID: Int64 }, object>) => {
      // One renewal at a time per stream, so replies keep the order of the requests.
      let chain = Promise.resolve();
      let failed = false;
      call.on("data", (pb: { ID: Int64 }) => {
        chain = chain.then(async () => {
          if (failed || call.cancelled) return;
          const id = lookupId(pb.ID);
          // The header is taken before renewing (as etcd), so its revision never postdates a
          // revoke the renewal could have missed.
          const header = responseHeader(node);
          try {
            const ttl = await renew(id);
            call.write({ header, ID: pb.ID, TTL: ttl });
          } catch (error) {
            failed = true;
            const rpc = toRpcError(error as Error);
            call.emit("error", { code: rpc.code, details: rpc.message });
          }
        });
      });
      call.on("end", () => {
        void chain.then(() => {
          if (!failed && !call.cancelled) call.end();
        });
      });
    },

    LeaseTimeToLive: unary(async (pb: { ID: Int64; keys: boolean }): Promise<Reply<object>> => {
      const id = lookupId(pb.ID);
      if (!node.isLeader && id > 0) {
        const response = await leader.timeToLive(id, pb.keys);
        return { response: { ...response, header: responseHeader(node) } };
      }
      const found = id > 0 ? node.kv.leases.timeToLive(id, performance.now()) : null;
      if (found === null) {
        return { response: { header: responseHeader(node), ID: pb.ID, TTL: -1 } };
      }
      return {
        response: {
          header: responseHeader(node),
          ID: pb.ID,
          TTL: found.ttl,
          grantedTTL: found.grantedTtl,
          keys: pb.keys ? found.keys : [],
        },
      };
    }),

    LeaseLeases: unary(async () => ({
      response: {
        header: responseHeader(node),
        leases: node.kv.leases.list().map((id) => ({ ID: id })),
      },
    })),
  };
}
