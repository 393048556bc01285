// The client endpoint: etcd v3's JSON gateway paths (POST /v3/kv/put, /v3/kv/range, ...) over
// HTTP/1.1 with keep-alive. It only translates: every decision is the node's.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { status as grpcStatus, Metadata } from "@grpc/grpc-js";
import { type ApplyResult, EMPTY_BYTES, KvError, LeaseNotFoundError } from "../kv/index.ts";
import {
  MembershipError,
  NotLeaderError,
  type QmeshNode,
  RequestTooLargeError,
} from "../node/node.ts";
import { RequestTimeoutError } from "../node/pending.ts";
import { clusterRoutes } from "./cluster_routes.ts";
import { ApiError, GrpcCode, header, type Route } from "./common.ts";
import { contractRoutes } from "./contract_routes.ts";
import { TOKEN_METADATA } from "./grpc/auth_gate.ts";
import { authenticate } from "./grpc/auth_service.ts";
import type { AuthGate } from "./grpc/context.ts";
import { toRpcError } from "./grpc/errors.ts";
import { RpcError } from "./grpc/etcd_errors.ts";
import { asUser, txnAccesses } from "./grpc/kv_service.ts";
import { checkTxn } from "./grpc/txn_check.ts";
import {
  BadRequestError,
  deleteJson,
  intField,
  type Json,
  kvJson,
  parseDeleteRange,
  parsePut,
  parseRange,
  parseTxn,
  putJson,
  txnJson,
} from "./json.ts";
import { ledgerRoutes } from "./ledger_routes.ts";
import { serveWatch } from "./watch_stream.ts";

/** Turns a failed command result into the error etcd would return. */
function unwrap(result: ApplyResult | null): ApplyResult & { response: unknown } {
  if (result === null) {
    // This member already had the entry's effect (it installed a leader's snapshot past it).
    throw new ApiError(
      500,
      2,
      "the request was committed, but its result is unknown here (this member caught up by " +
        "snapshot past it): read the key to see its effect; do not blindly retry non-idempotent requests",
    );
  }
  if ("error" in result) throw new KvError(result.error.code, result.error.message);
  return result;
}

const routes: Record<string, Route> = {
  "/v3/kv/put": async (node, body, user) => {
    const result = unwrap(await node.propose(asUser(parsePut(body), user)));
    const response = result.response as { prevKv?: import("../kv/index.ts").KeyValue };
    return putJson(response.prevKv, header(node, result.revision));
  },
  "/v3/kv/range": async (node, body) => {
    const { serializable, op: _, ...request } = parseRange(body);
    const response = await node.range(request, serializable);
    const out: Json = {
      header: header(node, response.revision),
      kvs: response.kvs.map(kvJson),
      count: String(response.count),
    };
    if (response.more) out.more = true;
    return out;
  },
  "/v3/kv/deleterange": async (node, body, user) => {
    const result = unwrap(await node.propose(asUser(parseDeleteRange(body), user)));
    const response = result.response as {
      deleted: number;
      prevKvs?: import("../kv/index.ts").KeyValue[];
    };
    return deleteJson(response.deleted, response.prevKvs, header(node, result.revision));
  },
  "/v3/kv/txn": async (node, body, user) => {
    const command = parseTxn(body);
    checkTxn(command);
    const result = unwrap(await node.propose(asUser(command, user)));
    const response = result.response as import("../kv/index.ts").TxnResponse;
    return txnJson(response.succeeded, response.responses, header(node, result.revision));
  },
  "/v3/kv/compaction": async (node, body) => {
    const result = unwrap(
      await node.propose({ op: "compact", revision: intField(body, "revision", 1) }),
    );
    return { header: header(node, result.revision) };
  },
  "/v3/lease/grant": async (node, body) => {
    if (body.TTL === undefined) throw new BadRequestError('"TTL" (seconds) is required');
    const ttl = intField(body, "TTL", 1);
    const requested = intField(body, "ID");
    const id = requested === 0 ? node.newLeaseId() : requested;
    const result = unwrap(await node.propose({ op: "leaseGrant", id, ttlSeconds: ttl }));
    return { header: header(node, result.revision), ID: String(id), TTL: String(ttl) };
  },
  "/v3/lease/revoke": async (node, body) => {
    const result = unwrap(await node.propose({ op: "leaseRevoke", id: intField(body, "ID", 1) }));
    return { header: header(node, result.revision) };
  },
  "/v3/lease/keepalive": async (node, body) => {
    const id = intField(body, "ID", 1);
    if (!node.isLeader) return forwardToLeader(node, "/v3/lease/keepalive", body);
    const ttl = node.leaseKeepAlive(id);
    return { result: { header: header(node), ID: String(id), TTL: String(ttl) } };
  },
  "/v3/lease/timetolive": async (node, body) => {
    const id = intField(body, "ID", 1);
    if (!node.isLeader) return forwardToLeader(node, "/v3/lease/timetolive", body);
    const found = node.kv.leases.timeToLive(id, performance.now());
    if (found === null) return { header: header(node), ID: String(id), TTL: "-1" };
    const out: Json = {
      header: header(node),
      ID: String(id),
      TTL: String(found.ttl),
      grantedTTL: String(found.grantedTtl),
    };
    if (body.keys === true) out.keys = found.keys.map((k) => Buffer.from(k).toString("base64"));
    return out;
  },
  "/v3/lease/leases": async (node) => ({
    header: header(node),
    leases: node.kv.leases.list().map((id) => ({ ID: String(id) })),
  }),
  ...clusterRoutes,
  ...ledgerRoutes,
  ...contractRoutes,
};

async function forwardToLeader(node: QmeshNode, path: string, body: Json): Promise<Json> {
  const leader = node.leaderMember();
  if (leader === undefined || leader.clientUrl === "") {
    throw new ApiError(503, GrpcCode.Unavailable, "etcdserver: no leader");
  }
  const response = await fetch(`${leader.clientUrl}${path}`, {
    method: "POST",
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  const json = (await response.json()) as Json;
  if (!response.ok)
    throw new ApiError(
      response.status,
      Number(json.code ?? 2),
      String(json.message ?? "leader failed"),
    );
  return json;
}

/** The JSON gateway as an HTTP/1.1 server that is fed connections by the client port. */
export function createGatewayServer(node: QmeshNode, gate: AuthGate): Server {
  // Base64 and JSON make a request up to ~4/3 of its payload, plus field names.
  const maxBodyBytes = Math.ceil(node.config.maxRequestBytes * 1.4) + 4096;
  const server = createServer((request, response) => {
    void handle(node, gate, request, response, maxBodyBytes);
  });
  server.keepAliveTimeout = 60_000;
  return server;
}

async function handle(
  node: QmeshNode,
  gate: AuthGate,
  request: IncomingMessage,
  response: ServerResponse,
  maxBodyBytes: number,
) {
  const path = (request.url ?? "/").split("?")[0] ?? "/";
  try {
    if (request.method !== "POST") {
      throw new ApiError(
        405,
        GrpcCode.InvalidArgument,
        `${request.method} is not supported: etcd's JSON API uses POST`,
      );
    }
    const body = await readBody(request, maxBodyBytes);
    if (path === "/v3/auth/authenticate") {
      const token = await authenticate(node, String(body.name ?? ""), String(body.password ?? ""));
      reply(response, 200, { header: header(node), token });
      return;
    }
    const user = checkAccess(gate, path, body, request.headers.authorization);
    if (path === "/v3/watch") {
      serveWatch(node, body, request, response);
      return;
    }
    const route = routes[path];
    if (route === undefined) throw new ApiError(404, GrpcCode.NotFound, `no such endpoint ${path}`);
    reply(response, 200, await route(node, body, user));
  } catch (error) {
    const failure = toApiError(error as Error);
    reply(response, failure.httpStatus, {
      error: failure.message,
      code: failure.grpcCode,
      message: failure.message,
    });
  }
}

/**
 * etcd's gateway takes the token from the Authorization header. With auth enabled, kv paths need
 * the key permissions their gRPC twins need; cluster, maintenance, compaction and contract rules
 * need root. Returns the caller's user name ("" with auth disabled, and for admin paths).
 */
function checkAccess(gate: AuthGate, path: string, body: Json, token: string | undefined): string {
  if (!gate.enabled) return "";
  const metadata = new Metadata();
  if (token !== undefined) metadata.set(TOKEN_METADATA, token);
  switch (path) {
    case "/v3/kv/put":
      return gate.checkKeys(metadata, [
        { key: parsePut(body).key, rangeEnd: EMPTY_BYTES, write: true },
      ]);
    case "/v3/kv/range":
    case "/v3/watch": {
      const source =
        path === "/v3/watch" ? ((body.create_request as Json | undefined) ?? body) : body;
      const { key, rangeEnd } = parseRange({ ...source, key: source.key ?? "" });
      return gate.checkKeys(metadata, [{ key, rangeEnd: rangeEnd ?? EMPTY_BYTES, write: false }]);
    }
    case "/v3/kv/deleterange": {
      const { key, rangeEnd } = parseDeleteRange(body);
      return gate.checkKeys(metadata, [{ key, rangeEnd, write: true }]);
    }
    case "/v3/kv/txn":
      return gate.checkKeys(metadata, txnAccesses(parseTxn(body)));
    default:
      if (path.startsWith("/v3/lease/")) return gate.checkKeys(metadata, []);
      gate.checkAdmin(metadata);
      return "";
  }
}

function toApiError(error: Error): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof RpcError)
    return new ApiError(httpStatusOf(error.code), error.code, error.message);
  if (error instanceof BadRequestError)
    return new ApiError(400, GrpcCode.InvalidArgument, error.message);
  if (error instanceof RequestTooLargeError) {
    return new ApiError(
      413,
      GrpcCode.InvalidArgument,
      `etcdserver: request is too large: ${error.message}`,
    );
  }
  if (error instanceof RequestTimeoutError)
    return new ApiError(504, GrpcCode.DeadlineExceeded, error.message);
  if (error instanceof NotLeaderError)
    return new ApiError(503, GrpcCode.Unavailable, error.message);
  if (error instanceof MembershipError)
    return new ApiError(400, GrpcCode.FailedPrecondition, error.message);
  if (error instanceof KvError || error instanceof LeaseNotFoundError) {
    // The same code and text as the gRPC API (etcd's gateway relays its gRPC errors).
    const rpc = toRpcError(error);
    return new ApiError(httpStatusOf(rpc.code), rpc.code, rpc.message);
  }
  return new ApiError(500, 2, error.message);
}

function httpStatusOf(code: number): number {
  switch (code) {
    case grpcStatus.UNAUTHENTICATED:
      return 401;
    case grpcStatus.PERMISSION_DENIED:
      return 403;
    case grpcStatus.NOT_FOUND:
      return 404;
    case grpcStatus.RESOURCE_EXHAUSTED:
      return 429;
    case grpcStatus.UNAVAILABLE:
      return 503;
    default:
      return 400;
  }
}

function readBody(request: IncomingMessage, maxBodyBytes: number): Promise<Json> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers["content-length"] ?? 0);
    if (declared > maxBodyBytes) {
      request.resume();
      reject(tooLarge(declared, maxBodyBytes));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        request.removeAllListeners("data");
        request.resume();
        reject(tooLarge(size, maxBodyBytes));
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => {
      if (size > maxBodyBytes) return;
      const text = Buffer.concat(chunks).toString("utf8");
      if (text.trim() === "") return resolve({});
      try {
        const value = JSON.parse(text) as unknown;
        if (typeof value !== "object" || value === null || Array.isArray(value))
          throw new Error("not a JSON object");
        resolve(value as Json);
      } catch (error) {
        reject(new BadRequestError(`request body is not valid JSON: ${(error as Error).message}`));
      }
    });
    request.on("error", reject);
  });
}

function tooLarge(size: number, max: number): ApiError {
  return new ApiError(
    413,
    GrpcCode.InvalidArgument,
    `etcdserver: request is too large: ${size} bytes of JSON, over ${max} (--max-request-bytes ` +
      "with base64 overhead); split it or store large values elsewhere",
  );
}

export function reply(response: ServerResponse, status: number, body: Json): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}
