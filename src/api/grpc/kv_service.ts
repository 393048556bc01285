// etcdserverpb.KV: Range, Put, DeleteRange, Txn, Compact.
import type * as grpc from "@grpc/grpc-js";
import type {
  ApplyResult,
  CommandResponse,
  DeleteRangeCommand,
  DeleteRangeResponse,
  OpResponse,
  PutCommand,
  PutResponse,
  RangeResponse,
  RequestOp,
  TxnCommand,
  TxnResponse,
} from "../../kv/index.ts";
import { checkCommandKeys, EMPTY_BYTES, KvError } from "../../kv/index.ts";
import type { QmeshNode } from "../../node/node.ts";
import { type ApiContext, type KeyAccess, type Reply, responseHeader, unary } from "./context.ts";
import { int64 } from "./int64.ts";
import {
  type DeleteRangeRequestPb,
  deleteRangeFromPb,
  kvToPb,
  type PutRequestPb,
  putFromPb,
  type RangeRequestPb,
  rangeFromPb,
  type TxnRequestPb,
  txnFromPb,
} from "./kv_convert.ts";
import { checkTxn } from "./txn_check.ts";

/** A write's result, or the etcd error it failed with (a failed write still has its index). */
export function applied(
  node: QmeshNode,
  result: ApplyResult | null,
): {
  revision: number;
  response: CommandResponse;
  ledgerIndex: number | undefined;
} {
  if (result === null) {
    throw new KvError(
      "InvalidArgument",
      "etcdserver: the request was committed, but its result is unknown on this member " +
        "(it caught up by snapshot past it): read the key to see its effect",
    );
  }
  if ("error" in result) throw new KvError(result.error.code, result.error.message);
  return {
    revision: result.revision,
    response: result.response,
    ledgerIndex: node.ledgerIndexOf(result),
  };
}

export function rangeResponsePb(node: QmeshNode, response: RangeResponse, header = true) {
  return {
    header: header ? responseHeader(node, response.revision) : null,
    kvs: response.kvs.map(kvToPb),
    more: response.more,
    count: response.count,
  };
}

function opResponsePb(node: QmeshNode, response: OpResponse, revision: number): object {
  switch (response.op) {
    case "range":
      return { response_range: rangeResponsePb(node, response) };
    case "put":
      return { response_put: putResponsePb(node, response, revision) };
    case "deleteRange":
      return { response_delete_range: deleteResponsePb(node, response, revision) };
    case "txn":
      return { response_txn: txnResponsePb(node, response, revision) };
  }
}

function putResponsePb(node: QmeshNode, response: PutResponse, revision: number) {
  return {
    header: responseHeader(node, revision),
    prev_kv: response.prevKv === undefined ? null : kvToPb(response.prevKv),
  };
}

function deleteResponsePb(node: QmeshNode, response: DeleteRangeResponse, revision: number) {
  return {
    header: responseHeader(node, revision),
    deleted: response.deleted,
    prev_kvs: (response.prevKvs ?? []).map(kvToPb),
  };
}

function txnResponsePb(node: QmeshNode, response: TxnResponse, revision: number): object {
  return {
    header: responseHeader(node, revision),
    succeeded: response.succeeded,
    responses: response.responses.map((r) => opResponsePb(node, r, revision)),
  };
}

/** The key ranges a txn reads (compares, ranges) and writes (puts, deletes), for auth. */
export function txnAccesses(txn: {
  compare: readonly { key: Uint8Array; rangeEnd: Uint8Array }[];
  success: readonly RequestOp[];
  failure: readonly RequestOp[];
}): KeyAccess[] {
  const accesses: KeyAccess[] = txn.compare.map((c) => ({
    key: c.key,
    rangeEnd: c.rangeEnd,
    write: false,
  }));
  for (const op of [...txn.success, ...txn.failure]) {
    if (op.op === "range")
      accesses.push({ key: op.key, rangeEnd: op.rangeEnd ?? EMPTY_BYTES, write: false });
    else if (op.op === "put") accesses.push({ key: op.key, rangeEnd: EMPTY_BYTES, write: true });
    else if (op.op === "deleteRange")
      accesses.push({ key: op.key, rangeEnd: op.rangeEnd, write: true });
    else accesses.push(...txnAccesses(op));
  }
  return accesses;
}

/** The write as sent by `user` (contract rules see who wrote); no user leaves it unchanged. */
export function asUser<C extends PutCommand | DeleteRangeCommand | TxnCommand>(
  command: C,
  user: string,
): C {
  return user === "" ? command : { ...command, user };
}

/** A write needs write permission; returning the previous values is a read too (as etcd). */
function writeAccesses(key: Uint8Array, rangeEnd: Uint8Array, prevKv: boolean): KeyAccess[] {
  const write = { key, rangeEnd, write: true };
  return prevKv ? [write, { key, rangeEnd, write: false }] : [write];
}

export function kvService(ctx: ApiContext): grpc.UntypedServiceImplementation {
  const { node } = ctx;
  return {
    Range: unary(async (pb: RangeRequestPb, call): Promise<Reply<object>> => {
      const request = rangeFromPb(pb);
      if (ctx.auth.enabled) {
        ctx.auth.checkKeys(call.metadata, [{ key: pb.key, rangeEnd: pb.range_end, write: false }]);
      }
      const response = await node.range(request, pb.serializable);
      return { response: rangeResponsePb(node, response) };
    }),
    Put: unary(async (pb: PutRequestPb, call) => {
      const command = putFromPb(pb);
      checkCommandKeys(command);
      const user = ctx.auth.enabled
        ? ctx.auth.checkKeys(call.metadata, writeAccesses(pb.key, EMPTY_BYTES, pb.prev_kv))
        : "";
      const done = applied(node, await node.propose(asUser(command, user)));
      return {
        response: putResponsePb(node, done.response as PutResponse, done.revision),
        ledgerIndex: done.ledgerIndex,
      };
    }),
    DeleteRange: unary(async (pb: DeleteRangeRequestPb, call) => {
      const command = deleteRangeFromPb(pb);
      checkCommandKeys(command);
      const user = ctx.auth.enabled
        ? ctx.auth.checkKeys(call.metadata, writeAccesses(pb.key, pb.range_end, pb.prev_kv))
        : "";
      const done = applied(node, await node.propose(asUser(command, user)));
      return {
        response: deleteResponsePb(node, done.response as DeleteRangeResponse, done.revision),
        ledgerIndex: done.ledgerIndex,
      };
    }),
    Txn: unary(async (pb: TxnRequestPb, call) => {
      const command = txnFromPb(pb);
      checkTxn(command);
      checkCommandKeys(command);
      const user = ctx.auth.enabled ? ctx.auth.checkKeys(call.metadata, txnAccesses(command)) : "";
      const done = applied(node, await node.propose(asUser(command, user)));
      return {
        response: txnResponsePb(node, done.response as TxnResponse, done.revision),
        ledgerIndex: done.ledgerIndex,
      };
    }),
    Compact: unary(async (pb: { revision: string; physical: boolean }, call) => {
      ctx.auth.checkAdmin(call.metadata);
      const done = applied(
        node,
        await node.propose({ op: "compact", revision: Math.max(0, int64(pb.revision)) }),
      );
      return {
        response: { header: responseHeader(node, done.revision) },
        ledgerIndex: done.ledgerIndex,
      };
    }),
  };
}
