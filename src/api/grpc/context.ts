// What every gRPC service handler shares: the member, the auth gate, etcd's response header, and
// the wrappers that turn handler results and errors into gRPC replies.
import * as grpc from "@grpc/grpc-js";
import type { QmeshNode } from "../../node/node.ts";
import { toRpcError } from "./errors.ts";

/** etcdserverpb.ResponseHeader as handlers build it (int64s as numbers; all < 2^53). */
export interface ResponseHeader {
  cluster_id: number;
  member_id: number;
  revision: number;
  raft_term: number;
}

/** One key range a request touches; rangeEnd as in RangeRequest (empty = the single key). */
export interface KeyAccess {
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
  readonly write: boolean;
}

/**
 * Auth checks, in etcd's terms. With auth disabled every check passes. With it enabled the
 * caller is the user named by the `token` metadata (etcd's clients send it there), and a check
 * throws the RpcError etcd would return (invalid auth token, user name is empty, permission
 * denied).
 */
export interface AuthGate {
  /** False: every check passes (and callers may skip computing what to check). */
  readonly enabled: boolean;
  /** Every access must be granted to the caller (root may do anything). Returns the caller's
   *  user name ("" with auth disabled), which writes carry for contract rules. */
  checkKeys(metadata: grpc.Metadata, accesses: readonly KeyAccess[]): string;
  /** Cluster and auth administration: root only. */
  checkAdmin(metadata: grpc.Metadata): void;
}

export const OPEN_GATE: AuthGate = {
  enabled: false,
  checkKeys: () => "",
  checkAdmin() {},
};

export interface ApiContext {
  readonly node: QmeshNode;
  auth: AuthGate;
}

const clusterIds = new WeakMap<QmeshNode, number>();

export function responseHeader(node: QmeshNode, revision?: number): ResponseHeader {
  let clusterId = clusterIds.get(node);
  if (clusterId === undefined) {
    // 48 bits of the cluster hash: a uint64 etcd clients print in hex, exact in a JS number.
    clusterId = Number.parseInt(node.clusterId.slice(0, 12), 16);
    clusterIds.set(node, clusterId);
  }
  return {
    cluster_id: clusterId,
    member_id: node.id,
    revision: revision ?? node.kv.revision,
    raft_term: node.term,
  };
}

/** Trailing metadata key for qmesh's ledger receipt: the index of the leaf recording a write. */
export const LEDGER_INDEX_METADATA = "qmesh-ledger-index";

/** What a unary handler returns: the response, and for writes the index of their log entry. */
export interface Reply<Res> {
  response: Res;
  ledgerIndex?: number | undefined;
}

export type UnaryHandler<Req, Res> = (
  request: Req,
  call: grpc.ServerUnaryCall<Req, Res>,
) => Promise<Reply<Res>>;

/** Adapts a promise-returning handler to grpc-js, mapping errors to etcd's statuses. */
export function unary<Req, Res>(handler: UnaryHandler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handler(call.request, call).then(
      (reply) => {
        if (reply.ledgerIndex === undefined) {
          callback(null, reply.response);
          return;
        }
        const trailer = new grpc.Metadata();
        trailer.set(LEDGER_INDEX_METADATA, String(reply.ledgerIndex));
        callback(null, reply.response, trailer);
      },
      (error: Error) => {
        const rpc = toRpcError(error);
        callback({ code: rpc.code, details: rpc.message, metadata: new grpc.Metadata() });
      },
    );
  };
}
