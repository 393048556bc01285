// One mapping from qmesh's internal errors to the gRPC status etcd returns for the same failure.
import { status as Status } from "@grpc/grpc-js";
import { KvError, LeaseNotFoundError } from "../../kv/index.ts";
import { LedgerOffError } from "../../node/member_ledger.ts";
import {
  CorruptError,
  MembershipError,
  NotLeaderError,
  RequestTooLargeError,
  StoppedError,
} from "../../node/node.ts";
import { RequestTimeoutError } from "../../node/pending.ts";
import { ApiError } from "../common.ts";
import { BadRequestError } from "../json.ts";
import { EtcdErrors, RpcError } from "./etcd_errors.ts";

export function toRpcError(error: Error): RpcError {
  if (error instanceof RpcError) return error;
  if (error instanceof KvError) return kvError(error);
  if (error instanceof LeaseNotFoundError) return EtcdErrors.leaseNotFound;
  if (error instanceof RequestTooLargeError) return EtcdErrors.requestTooLarge;
  if (error instanceof RequestTimeoutError) return EtcdErrors.timeout;
  if (error instanceof NotLeaderError) return EtcdErrors.noLeader;
  if (error instanceof StoppedError) return EtcdErrors.stopped;
  if (error instanceof CorruptError) return new RpcError(Status.DATA_LOSS, error.message);
  if (error instanceof MembershipError || error instanceof LedgerOffError)
    return new RpcError(Status.FAILED_PRECONDITION, error.message);
  if (error instanceof BadRequestError) return new RpcError(Status.INVALID_ARGUMENT, error.message);
  if (error instanceof ApiError) return new RpcError(error.grpcCode, error.message);
  return new RpcError(Status.UNKNOWN, error.message);
}

const AUTH_BY_MESSAGE = new Map<string, RpcError>(
  Object.values(EtcdErrors).map((e) => [e.message, e]),
);

function kvError(error: KvError): RpcError {
  switch (error.code) {
    case "Compacted":
      return EtcdErrors.compacted;
    case "FutureRevision":
      return EtcdErrors.futureRev;
    case "LeaseNotFound":
      return EtcdErrors.leaseNotFound;
    case "LeaseExists":
      return EtcdErrors.leaseExist;
    case "KeyNotFound":
      return EtcdErrors.keyNotFound;
    case "NoSpace":
      return EtcdErrors.noSpace;
    case "ContractRejected":
      // The state refused the write, not the request's form: etcd's code for such refusals.
      return new RpcError(Status.FAILED_PRECONDITION, error.message);
    case "Auth":
      // Auth refusals carry etcd's exact text; its code comes from etcd's table.
      return (
        AUTH_BY_MESSAGE.get(error.message) ??
        new RpcError(Status.FAILED_PRECONDITION, error.message)
      );
    default:
      // Our InvalidArgument messages already carry etcd's text ("etcdserver: key is not provided").
      return new RpcError(Status.INVALID_ARGUMENT, error.message);
  }
}
