// Starts a member's client API: the etcd v3 gRPC services and the JSON gateway on one port.
import * as grpc from "@grpc/grpc-js";
import type { QmeshNode } from "../node/node.ts";
import { type ClientPort, type ClientTls, serveClientPort } from "./client_port.ts";
import { createGatewayServer } from "./gateway.ts";
import { type ApiContext, OPEN_GATE } from "./grpc/context.ts";
import { kvService } from "./grpc/kv_service.ts";
import { services } from "./grpc/proto.ts";

export interface ClientApi {
  readonly ports: readonly ClientPort[];
  close(): Promise<void>;
}

export async function startClientApi(
  node: QmeshNode,
  urls: readonly string[],
  tls: ClientTls | null,
): Promise<ClientApi> {
  // etcd's limit is on the request; gRPC framing adds a little, so allow a small margin.
  const maxMessageBytes = node.config.maxRequestBytes + 64 * 1024;
  const server = new grpc.Server({
    "grpc.max_receive_message_length": maxMessageBytes,
    "grpc.max_send_message_length": -1,
    // etcd's server keepalive policy: clients may ping every 5 s, even without calls.
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 5_000,
  });
  const ctx: ApiContext = { node, auth: OPEN_GATE };
  server.addService(services.KV.service, kvService(ctx));
  const gateway = createGatewayServer(node);
  const ports: ClientPort[] = [];
  try {
    for (const url of urls) {
      ports.push(await serveClientPort(url, server, gateway, tls, "--listen-client-urls"));
    }
  } catch (error) {
    for (const port of ports) await port.close();
    throw error;
  }
  return {
    ports,
    close: async () => {
      for (const port of ports) await port.close();
      gateway.close();
      server.forceShutdown();
    },
  };
}
