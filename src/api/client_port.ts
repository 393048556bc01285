// One client port for both protocols, as etcd serves gRPC and its JSON gateway on one listener:
// each connection is routed by its first bytes. HTTP/2 (gRPC) opens with the connection preface
// "PRI * HTTP/2.0"; HTTP/1.1 opens with a method name. Over TLS, ALPN decides instead.

import type { Server as HttpServer } from "node:http";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { listen } from "../node/status_server.ts";

export interface ClientTls {
  readonly key: Buffer;
  readonly cert: Buffer;
  /** CA for client certificates; with requestCert, clients without a valid one are refused. */
  readonly ca?: Buffer;
  readonly requestCert: boolean;
}

export interface ClientPort {
  readonly port: number;
  close(): Promise<void>;
}

const PREFACE_PREFIX = Buffer.from("PRI ");

export async function serveClientPort(
  url: string,
  grpcServer: grpc.Server,
  httpServer: HttpServer,
  tls: ClientTls | null,
  flag: string,
): Promise<ClientPort> {
  const { hostname, port, protocol } = new URL(url);
  const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  let server: NetServer;
  if (protocol === "https:") {
    if (tls === null) throw new Error(`${url} is https:// but no client certificate was given`);
    server = createTlsServer(
      {
        key: tls.key,
        cert: tls.cert,
        ca: tls.ca,
        requestCert: tls.requestCert,
        rejectUnauthorized: tls.requestCert,
        ALPNProtocols: ["h2", "http/1.1"],
        minVersion: "TLSv1.2",
      },
      (socket: TLSSocket) => {
        track(socket);
        if (socket.alpnProtocol === "h2") injector.injectConnection(socket);
        else httpServer.emit("connection", socket);
      },
    );
  } else {
    server = createNetServer((socket) => {
      track(socket);
      route(socket, injector, httpServer);
    });
  }
  server.on("connection", (socket: Socket) => socket.setNoDelay(true));
  await listen(server as unknown as import("node:http").Server, hostname, Number(port), flag);
  const address = server.address();
  const boundPort = typeof address === "object" && address !== null ? address.port : Number(port);
  return {
    port: boundPort,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        injector.destroy();
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** A client that connects and sends nothing is dropped after this long. */
const FIRST_BYTES_TIMEOUT_MS = 10_000;

function route(socket: Socket, injector: grpc.ConnectionInjector, httpServer: HttpServer): void {
  let head: Buffer = Buffer.alloc(0);
  const onSilent = () => socket.destroy();
  socket.setTimeout(FIRST_BYTES_TIMEOUT_MS, onSilent);
  const onData = (chunk: Buffer) => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    if (head.length < PREFACE_PREFIX.length) return;
    socket.setTimeout(0);
    socket.removeListener("timeout", onSilent);
    socket.removeListener("data", onData);
    socket.removeListener("error", onError);
    socket.pause();
    socket.unshift(head);
    if (head.subarray(0, PREFACE_PREFIX.length).equals(PREFACE_PREFIX)) {
      injector.injectConnection(socket);
    } else {
      // The HTTP/1 parser reads the socket as a stream: resume it so the unshifted bytes flow.
      httpServer.emit("connection", socket);
      socket.resume();
    }
  };
  const onError = () => socket.destroy();
  socket.on("data", onData);
  socket.on("error", onError);
}
