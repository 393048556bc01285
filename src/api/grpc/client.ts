// A small etcd v3 gRPC client over our protos, for the qmesh CLI, tests and the load generator.
// Unary calls return promises; streams are grpc-js duplex/readable streams.
import * as grpc from "@grpc/grpc-js";
import { services } from "./proto.ts";

export type ServiceName = keyof typeof services;

/** A unary method as a promise; `metadata` carries e.g. the auth `token`. */
export type UnaryMethod = (request: object, metadata?: grpc.Metadata) => Promise<any>;

export interface EtcdClient {
  /** Unary call: `await client.call("KV", "Put", {key, value})`. */
  call(
    service: ServiceName,
    method: string,
    request: object,
    metadata?: grpc.Metadata,
  ): Promise<any>;
  /** Like call, also resolving the trailing metadata (qmesh's ledger receipt). */
  callWithTrailer(
    service: ServiceName,
    method: string,
    request: object,
    metadata?: grpc.Metadata,
  ): Promise<{ response: any; trailer: grpc.Metadata }>;
  /** The raw grpc-js client of a service, for streaming methods. */
  raw(service: ServiceName): any;
  close(): void;
}

export interface ConnectOptions {
  /** TLS: CA to trust and, for client-cert auth, this client's certificate and key. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** Default per-call deadline, ms. */
  timeoutMs?: number;
}

/** `endpoint` is host:port or a URL (http:// or https://). */
export function connectEtcd(endpoint: string, options: ConnectOptions = {}): EtcdClient {
  const secure = endpoint.startsWith("https://") || options.tls !== undefined;
  const address = endpoint.replace(/^https?:\/\//, "").replace(/\/$/, "");
  const credentials = secure
    ? grpc.credentials.createSsl(
        options.tls?.ca ?? null,
        options.tls?.key ?? null,
        options.tls?.cert ?? null,
      )
    : grpc.credentials.createInsecure();
  const channelOptions = {
    "grpc.max_receive_message_length": -1,
    "grpc.max_send_message_length": -1,
  };
  const clients = new Map<ServiceName, grpc.Client>();
  let channel: grpc.Channel | undefined;
  const raw = (service: ServiceName): any => {
    let client = clients.get(service);
    if (client === undefined) {
      // All services share one channel (one HTTP/2 connection), as etcd's clients do.
      client = new services[service](address, credentials, {
        ...channelOptions,
        ...(channel === undefined ? {} : { channelOverride: channel }),
      });
      channel ??= client.getChannel() as grpc.Channel;
      clients.set(service, client);
    }
    return client;
  };
  const timeoutMs = options.timeoutMs ?? 10_000;
  const invoke = (
    service: ServiceName,
    method: string,
    request: object,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ) =>
    new Promise<{ response: any; trailer: grpc.Metadata }>((resolve, reject) => {
      const client = raw(service);
      if (typeof client[method] !== "function") {
        reject(new Error(`${service} has no method ${method}`));
        return;
      }
      let response: any;
      const call = client[method](
        request,
        metadata,
        { deadline: Date.now() + timeoutMs },
        (error: grpc.ServiceError | null, value: any) => {
          if (error !== null) reject(error);
          else response = value;
        },
      );
      // grpc-js runs the callback just before it emits the status carrying the trailers.
      call.on("status", (status: grpc.StatusObject) => {
        if (status.code === grpc.status.OK) resolve({ response, trailer: status.metadata });
      });
    });
  return {
    call: async (service, method, request, metadata) =>
      (await invoke(service, method, request, metadata)).response,
    callWithTrailer: invoke,
    raw,
    close: () => {
      for (const client of clients.values()) client.close();
    },
  };
}
