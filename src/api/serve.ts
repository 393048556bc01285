// Starts a member's client API: the etcd v3 gRPC services and the JSON gateway on one port.
import * as grpc from "@grpc/grpc-js";
import type { QmeshNode } from "../node/node.ts";
import { type ClientPort, type ClientTls, serveClientPort } from "./client_port.ts";
import { createGatewayServer } from "./gateway.ts";
import { TokenAuthGate } from "./grpc/auth_gate.ts";
import { authService } from "./grpc/auth_service.ts";
import { clusterService } from "./grpc/cluster_service.ts";
import type { ApiContext } from "./grpc/context.ts";
import { contractsService } from "./grpc/contracts_service.ts";
import { electionService } from "./grpc/election_service.ts";
import { healthService } from "./grpc/health_service.ts";
import { kvService } from "./grpc/kv_service.ts";
import { LeaderLink } from "./grpc/leader_link.ts";
import { leaseService } from "./grpc/lease_service.ts";
import { ledgerService } from "./grpc/ledger_service.ts";
import { lockService } from "./grpc/lock_service.ts";
import { maintenanceService } from "./grpc/maintenance_service.ts";
import { acceptingEncoded } from "./grpc/proof_wire.ts";
import { services } from "./grpc/proto.ts";
import { watchService } from "./grpc/watch_service.ts";

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
  const ctx: ApiContext = { node, auth: new TokenAuthGate(node.kv.auth) };
  server.addService(services.KV.service, kvService(ctx));
  server.addService(services.Auth.service, authService(ctx));
  server.addService(services.Watch.service, watchService(ctx));
  // A follower forwards lease renewals to the leader's client URL, trusting the same CA.
  const forwardTls = tls === null ? undefined : tls.ca === undefined ? {} : { ca: tls.ca };
  const leaderLink = new LeaderLink(node, forwardTls);
  server.addService(services.Lease.service, leaseService(ctx, leaderLink));
  server.addService(services.Lock.service, lockService(ctx));
  server.addService(services.Election.service, electionService(ctx));
  server.addService(services.Cluster.service, clusterService(ctx));
  server.addService(services.Maintenance.service, maintenanceService(ctx));
  server.addService(services.Health.service, healthService(ctx));
  server.addService(
    acceptingEncoded(services.Ledger.service, ["InclusionProofs"]),
    ledgerService(ctx),
  );
  server.addService(services.Contracts.service, contractsService(ctx));
  const gateway = createGatewayServer(node, ctx.auth);
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
      leaderLink.close();
      server.forceShutdown();
    },
  };
}
