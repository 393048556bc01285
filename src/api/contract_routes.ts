// The Contracts service in JSON (POST /v3/contracts/set, /v3/contracts/delete), as etcd's
// gateway renders services: the gRPC fields, bytes as base64. Root only (see gateway.ts).
import { header, type Route } from "./common.ts";
import { deleteContract, setContract } from "./grpc/contracts_service.ts";
import { bytesField, type Json } from "./json.ts";

const text = (body: Json, name: string) => String(body[name] ?? "");

export const contractRoutes: Record<string, Route> = {
  "/v3/contracts/set": async (node, body) => {
    const done = await setContract(node, {
      name: text(body, "name"),
      prefix: bytesField(body, "prefix"),
      expression: text(body, "expression"),
      message: text(body, "message"),
    });
    return { header: header(node, done.revision) };
  },
  "/v3/contracts/delete": async (node, body) => {
    const done = await deleteContract(node, text(body, "name"));
    return { header: header(node, done.revision), ...(done.deleted ? { deleted: true } : {}) };
  },
};
