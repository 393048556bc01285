// The ledger service in JSON (POST /v3/ledger/...), as etcd's gateway renders its services:
// the same fields as the gRPC messages, bytes as base64, 64-bit integers as decimal strings.

import type { Route } from "./common.ts";
import {
  checkpoint,
  consistency,
  inclusion,
  inclusionBatch,
  leaves,
} from "./grpc/ledger_service.ts";
import type { Json } from "./json.ts";

function base64Bytes(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map(base64Bytes);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, base64Bytes(v)]));
  }
  return value;
}

export const ledgerRoutes: Record<string, Route> = {
  "/v3/ledger/checkpoint": async (node, body) => base64Bytes(checkpoint(node, body)) as Json,
  "/v3/ledger/inclusionproof": async (node, body) =>
    base64Bytes(
      inclusion(node, { ...body, target: body.revision === undefined ? "leaf_index" : "revision" }),
    ) as Json,
  "/v3/ledger/inclusionproofs": async (node, body) =>
    base64Bytes(inclusionBatch(node, body)) as Json,
  "/v3/ledger/consistencyproof": async (node, body) => base64Bytes(consistency(node, body)) as Json,
  "/v3/ledger/leaves": async (node, body) => base64Bytes(leaves(node, body)) as Json,
};
