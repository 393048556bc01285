// qmesh.v1.Contracts: setting and deleting contract rules. A rule is checked here first, so a bad
// one is refused before it reaches the log; every member checks it again when it applies it.
// Reading rules needs no service of its own: they are keys under qmesh/contracts/ (KV.Range).
import * as grpc from "@grpc/grpc-js";
import { type Command, checkCommandKeys } from "../../kv/index.ts";
import { encodeRuleSpec } from "../../node/contract_guard.ts";
import type { QmeshNode } from "../../node/node.ts";
import { type ApiContext, responseHeader, unary } from "./context.ts";
import { RpcError } from "./etcd_errors.ts";
import { applied } from "./kv_service.ts";

export interface ContractSetRequest {
  name: string;
  prefix: Uint8Array;
  expression: string;
  message: string;
}

async function propose(node: QmeshNode, command: Command) {
  checkCommandKeys(command);
  return applied(node, await node.propose(command));
}

export async function setContract(node: QmeshNode, request: ContractSetRequest) {
  const encoded = encodeRuleSpec({
    name: String(request.name ?? ""),
    prefix: request.prefix ?? new Uint8Array(0),
    expression: String(request.expression ?? ""),
    message: String(request.message ?? ""),
  });
  if ("error" in encoded) throw new RpcError(grpc.status.INVALID_ARGUMENT, encoded.error);
  return propose(node, { op: "contractSet", name: request.name, rule: encoded.rule });
}

export async function deleteContract(node: QmeshNode, name: string) {
  const done = await propose(node, { op: "contractDelete", name: String(name ?? "") });
  const deleted = done.response.op === "contractDelete" && done.response.deleted > 0;
  return { ...done, deleted };
}

export function contractsService(ctx: ApiContext): grpc.UntypedServiceImplementation {
  const { node, auth } = ctx;
  return {
    Set: unary(async (pb: ContractSetRequest, call) => {
      auth.checkAdmin(call.metadata);
      const done = await setContract(node, pb);
      return {
        response: { header: responseHeader(node, done.revision) },
        ledgerIndex: done.ledgerIndex,
      };
    }),
    Delete: unary(async (pb: { name: string }, call) => {
      auth.checkAdmin(call.metadata);
      const done = await deleteContract(node, pb.name);
      return {
        response: { header: responseHeader(node, done.revision), deleted: done.deleted },
        ledgerIndex: done.ledgerIndex,
      };
    }),
  };
}
