// Translation between etcdserverpb/mvccpb messages (as decoded by proto.ts) and the kv layer's
// request and response shapes.

import { status } from "@grpc/grpc-js";
import type {
  Compare,
  CompareResult,
  DeleteRangeCommand,
  KeyValue,
  PutCommand,
  RangeOp,
  RangeRequest,
  RequestOp,
  SortOrder,
  SortTarget,
  TxnCommand,
} from "../../kv/index.ts";
import { EMPTY_BYTES } from "../../kv/index.ts";
import { EtcdErrors, RpcError } from "./etcd_errors.ts";
import { int64 } from "./int64.ts";

type Int64 = string;

export interface RangeRequestPb {
  key: Buffer;
  range_end: Buffer;
  limit: Int64;
  revision: Int64;
  sort_order: number;
  sort_target: number;
  serializable: boolean;
  keys_only: boolean;
  count_only: boolean;
  min_mod_revision: Int64;
  max_mod_revision: Int64;
  min_create_revision: Int64;
  max_create_revision: Int64;
}

export interface PutRequestPb {
  key: Buffer;
  value: Buffer;
  lease: Int64;
  prev_kv: boolean;
  ignore_value: boolean;
  ignore_lease: boolean;
}

export interface DeleteRangeRequestPb {
  key: Buffer;
  range_end: Buffer;
  prev_kv: boolean;
}

export interface ComparePb {
  result: number;
  target: number;
  key: Buffer;
  range_end: Buffer;
  target_union?: "version" | "create_revision" | "mod_revision" | "value" | "lease";
  version?: Int64;
  create_revision?: Int64;
  mod_revision?: Int64;
  value?: Buffer;
  lease?: Int64;
}

export interface RequestOpPb {
  request?: "request_range" | "request_put" | "request_delete_range" | "request_txn";
  request_range?: RangeRequestPb;
  request_put?: PutRequestPb;
  request_delete_range?: DeleteRangeRequestPb;
  request_txn?: TxnRequestPb;
}

export interface TxnRequestPb {
  compare: ComparePb[];
  success: RequestOpPb[];
  failure: RequestOpPb[];
}

export interface KeyValuePb {
  key: Uint8Array;
  create_revision: number;
  mod_revision: number;
  version: number;
  value: Uint8Array;
  lease: number;
}

const SORT_ORDERS: readonly SortOrder[] = ["none", "ascend", "descend"];
const SORT_TARGETS: readonly SortTarget[] = ["key", "version", "create", "mod", "value"];
const COMPARE_RESULTS: readonly CompareResult[] = ["equal", "greater", "less", "not_equal"];
const COMPARE_TARGETS = ["version", "create", "mod", "value", "lease"] as const;

function negative(field: string): RpcError {
  return new RpcError(status.INVALID_ARGUMENT, `etcdserver: ${field} must not be negative`);
}

export function rangeFromPb(pb: RangeRequestPb): RangeRequest {
  const sortOrder = SORT_ORDERS[pb.sort_order];
  const sortTarget = SORT_TARGETS[pb.sort_target];
  if (sortOrder === undefined || sortTarget === undefined) throw EtcdErrors.invalidSortOption;
  const request: RangeRequest = { key: pb.key, rangeEnd: pb.range_end };
  const revision = int64(pb.revision);
  if (revision < 0) throw negative("revision");
  if (revision !== 0) request.revision = revision;
  const limit = int64(pb.limit);
  if (limit > 0) request.limit = limit;
  if (sortOrder !== "none") request.sortOrder = sortOrder;
  // etcd sorts by key ascending when only a target is given.
  if (sortTarget !== "key" || sortOrder !== "none") request.sortTarget = sortTarget;
  if (pb.count_only) request.countOnly = true;
  if (pb.keys_only) request.keysOnly = true;
  const minMod = int64(pb.min_mod_revision);
  const maxMod = int64(pb.max_mod_revision);
  const minCreate = int64(pb.min_create_revision);
  const maxCreate = int64(pb.max_create_revision);
  // etcd ignores filters that are not positive.
  if (minMod > 0) request.minModRevision = minMod;
  if (maxMod > 0) request.maxModRevision = maxMod;
  if (minCreate > 0) request.minCreateRevision = minCreate;
  if (maxCreate > 0) request.maxCreateRevision = maxCreate;
  return request;
}

export function putFromPb(pb: PutRequestPb): PutCommand {
  if (pb.key.length === 0) throw EtcdErrors.emptyKey;
  if (pb.ignore_value && pb.value.length !== 0) throw EtcdErrors.valueProvided;
  const lease = int64(pb.lease);
  if (pb.ignore_lease && lease !== 0) throw EtcdErrors.leaseProvided;
  if (lease < 0) throw EtcdErrors.leaseNotFound;
  return {
    op: "put",
    key: pb.key,
    value: pb.value,
    lease,
    prevKv: pb.prev_kv,
    ignoreValue: pb.ignore_value,
    ignoreLease: pb.ignore_lease,
  };
}

export function deleteRangeFromPb(pb: DeleteRangeRequestPb): DeleteRangeCommand {
  if (pb.key.length === 0) throw EtcdErrors.emptyKey;
  return { op: "deleteRange", key: pb.key, rangeEnd: pb.range_end, prevKv: pb.prev_kv };
}

function compareFromPb(pb: ComparePb): Compare {
  const result = COMPARE_RESULTS[pb.result];
  const target = COMPARE_TARGETS[pb.target];
  if (result === undefined || target === undefined) {
    throw new RpcError(
      status.INVALID_ARGUMENT,
      `etcdserver: unknown compare result ${pb.result} or target ${pb.target}`,
    );
  }
  const base = { result, key: pb.key, rangeEnd: pb.range_end };
  if (target === "value") return { ...base, target, value: pb.value ?? EMPTY_BYTES };
  const field = {
    version: pb.version,
    create: pb.create_revision,
    mod: pb.mod_revision,
    lease: pb.lease,
  }[target];
  const number = int64(field);
  // Versions, revisions and lease ids are never negative; qmesh's log encodes them unsigned.
  if (number < 0) throw negative(`compare ${target}`);
  return { ...base, target, number };
}

function requestOpFromPb(pb: RequestOpPb): RequestOp {
  switch (pb.request) {
    case "request_range": {
      const op: RangeOp = { op: "range", ...rangeFromPb(pb.request_range!) };
      return op;
    }
    case "request_put":
      return putFromPb(pb.request_put!);
    case "request_delete_range":
      return deleteRangeFromPb(pb.request_delete_range!);
    case "request_txn":
      return txnFromPb(pb.request_txn!);
    default:
      throw new RpcError(
        status.INVALID_ARGUMENT,
        "etcdserver: a txn operation needs one of request_range, request_put, " +
          "request_delete_range or request_txn",
      );
  }
}

export function txnFromPb(pb: TxnRequestPb): TxnCommand {
  return {
    op: "txn",
    compare: pb.compare.map(compareFromPb),
    success: pb.success.map(requestOpFromPb),
    failure: pb.failure.map(requestOpFromPb),
  };
}

export function kvToPb(kv: KeyValue): KeyValuePb {
  return {
    key: kv.key,
    create_revision: kv.createRevision,
    mod_revision: kv.modRevision,
    version: kv.version,
    value: kv.value,
    lease: kv.lease,
  };
}
