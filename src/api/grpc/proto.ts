// The etcd v3 protobuf definitions (src/api/proto, written here to etcd's wire format), loaded
// once. Decoding options: field names as in the .proto files (snake_case), int64 as decimal
// strings (lease ids and revisions are checked before use; nothing is silently rounded), enums as
// numbers, absent fields as their defaults, and a `request`/`target_union` field naming the set
// member of each oneof.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const PROTO_DIR = fileURLToPath(new URL("../proto/", import.meta.url));

export const PROTO_FILES = [
  "rpc.proto",
  "v3lock.proto",
  "v3election.proto",
  "health.proto",
  "ledger.proto",
  "contracts.proto",
];

export const LOAD_OPTIONS: protoLoader.Options = {
  includeDirs: [PROTO_DIR],
  keepCase: true,
  longs: String,
  enums: Number,
  defaults: true,
  oneofs: true,
};

export const packageDefinition = protoLoader.loadSync(PROTO_FILES, LOAD_OPTIONS);

interface ServiceConstructor {
  service: grpc.ServiceDefinition;
  new (address: string, credentials: grpc.ChannelCredentials, options?: object): grpc.Client;
}

const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
  etcdserverpb: Record<
    "KV" | "Watch" | "Lease" | "Cluster" | "Maintenance" | "Auth",
    ServiceConstructor
  >;
  v3lockpb: { Lock: ServiceConstructor };
  v3electionpb: { Election: ServiceConstructor };
  grpc: { health: { v1: { Health: ServiceConstructor } } };
  qmesh: { v1: { Ledger: ServiceConstructor; Contracts: ServiceConstructor } };
};

/** Service constructors: `.service` is the server-side definition, `new X(addr, creds)` a client. */
export const services = {
  KV: loaded.etcdserverpb.KV,
  Watch: loaded.etcdserverpb.Watch,
  Lease: loaded.etcdserverpb.Lease,
  Cluster: loaded.etcdserverpb.Cluster,
  Maintenance: loaded.etcdserverpb.Maintenance,
  Auth: loaded.etcdserverpb.Auth,
  Lock: loaded.v3lockpb.Lock,
  Election: loaded.v3electionpb.Election,
  Health: loaded.grpc.health.v1.Health,
  Ledger: loaded.qmesh.v1.Ledger,
  Contracts: loaded.qmesh.v1.Contracts,
};
