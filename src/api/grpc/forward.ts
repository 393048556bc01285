// Forwarding a request to the leader's client URL, for calls only the leader can serve but etcd
// accepts on any member (membership changes: etcd forwards them to the leader too).
import type * as grpc from "@grpc/grpc-js";
import type { QmeshNode } from "../../node/node.ts";
import { connectEtcd, type ServiceName } from "./client.ts";
import { EtcdErrors, RpcError } from "./etcd_errors.ts";

const FORWARD_TIMEOUT_MS = 15_000;

/** The leader's response, or null when this member is the leader and must serve the call. */
export async function viaLeader(
  node: QmeshNode,
  service: ServiceName,
  method: string,
  request: object,
  metadata: grpc.Metadata,
): Promise<object | null> {
  if (node.isLeader) return null;
  const leader = node.leaderMember();
  // Plain client URLs only: a member has no client credentials for another's TLS port.
  if (leader === undefined || !leader.clientUrl.startsWith("http://")) throw EtcdErrors.noLeader;
  const client = connectEtcd(leader.clientUrl, { timeoutMs: FORWARD_TIMEOUT_MS });
  try {
    return await client.call(service, method, request, metadata);
  } catch (error) {
    const failed = error as grpc.ServiceError;
    throw new RpcError(failed.code, failed.details);
  } finally {
    client.close();
  }
}
