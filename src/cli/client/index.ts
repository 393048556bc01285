// The client commands (etcdctl's, over etcd v3 gRPC): each group in its own file.
import type { Command } from "commander";
import { addContractCommands } from "./contract.ts";
import { addEndpointCommands } from "./endpoint.ts";
import { addKvCommands } from "./kv.ts";
import { addLeaseCommands } from "./lease.ts";
import { addMemberCommands } from "./member.ts";
import { addSnapshotCommands } from "./snapshot.ts";
import { addTxnCommand } from "./txn.ts";
import { addWatchCommand } from "./watch.ts";

export function addClientCommands(program: Command): void {
  addKvCommands(program);
  addTxnCommand(program);
  addWatchCommand(program);
  addLeaseCommands(program);
  addMemberCommands(program);
  addEndpointCommands(program);
  addSnapshotCommands(program);
  addContractCommands(program);
}
