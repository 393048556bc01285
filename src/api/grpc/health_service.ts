// grpc.health.v1.Health: SERVING while the member knows a leader and has not failed, for the
// whole server ("") and each etcd service name; SERVICE_UNKNOWN for other names.
import type * as grpc from "@grpc/grpc-js";
import type { QmeshNode } from "../../node/node.ts";
import { type ApiContext, unary } from "./context.ts";

const SERVING = 1;
const NOT_SERVING = 2;
const SERVICE_UNKNOWN = 3;
const WATCH_POLL_MS = 500;

const KNOWN_SERVICES = new Set([
  "",
  "etcdserverpb.KV",
  "etcdserverpb.Watch",
  "etcdserverpb.Lease",
  "etcdserverpb.Cluster",
  "etcdserverpb.Maintenance",
  "etcdserverpb.Auth",
  "v3lockpb.Lock",
  "v3electionpb.Election",
]);

function servingStatus(node: QmeshNode, service: string): number {
  if (!KNOWN_SERVICES.has(service)) return SERVICE_UNKNOWN;
  return node.healthy() ? SERVING : NOT_SERVING;
}

export function healthService(ctx: ApiContext): grpc.UntypedServiceImplementation {
  const { node } = ctx;
  return {
    Check: unary(async (pb: { service: string }) => ({
      response: { status: servingStatus(node, pb.service) },
    })),
    /** Sends the status now and again whenever it changes, until the client cancels. */
    Watch: (call: grpc.ServerWritableStream<{ service: string }, { status: number }>) => {
      let last = -1;
      const report = () => {
        const status = servingStatus(node, call.request.service);
        if (status !== last) {
          last = status;
          call.write({ status });
        }
      };
      report();
      const timer = setInterval(report, WATCH_POLL_MS);
      const stop = () => clearInterval(timer);
      call.on("cancelled", stop);
      call.on("close", stop);
      call.on("error", stop);
    },
  };
}
