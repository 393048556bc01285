// What every endpoint shares: errors with their gRPC codes, and etcd's response header.
import type { QmeshNode } from "../node/node.ts";
import type { Json } from "./json.ts";

/** gRPC status codes, which etcd's gateway reports in error bodies. */
export const GrpcCode = {
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  FailedPrecondition: 9,
  OutOfRange: 11,
  Unavailable: 14,
} as const;

export class ApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly grpcCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** `user`: the authenticated caller ("" with auth disabled), which writes carry for contracts. */
export type Route = (node: QmeshNode, body: Json, user: string) => Promise<Json>;

export function header(node: QmeshNode, revision?: number): Json {
  const status = node.status();
  return {
    cluster_id: String(parseInt(node.clusterId.slice(0, 12), 16)),
    member_id: String(node.id),
    revision: String(revision ?? status.revision),
    raft_term: String(status.term),
  };
}
