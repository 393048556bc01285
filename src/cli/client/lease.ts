// lease grant | revoke | timetolive | keep-alive | list, with etcdctl's hex ids and lines.
import type { Command } from "commander";
import { CommanderError } from "commander";
import { parseLeaseId, parseNonNegative } from "./ids.ts";
import { hexId, write, writeJson } from "./output.ts";
import {
  type ConnectionFlags,
  clientAction,
  requestError,
  type Session,
  withConnectionFlags,
} from "./session.ts";

export function addLeaseCommands(program: Command): void {
  const lease = program
    .command("lease")
    .description("grant, revoke, inspect and keep alive leases");
  withConnectionFlags(lease.command("grant <ttl>"))
    .description("grant a lease of ttl seconds; prints its hex id")
    .action(
      clientAction(async (session, ttl: string, flags: ConnectionFlags) => {
        const response = await session.call("Lease", "LeaseGrant", {
          TTL: parseNonNegative("TTL", ttl),
          ID: "0",
        });
        if (flags.writeOut === "json") writeJson(response, "LeaseGrantResponse");
        else write(`lease ${hexId(response.ID)} granted with TTL(${response.TTL}s)\n`);
      }),
    );
  withConnectionFlags(lease.command("revoke <id>"))
    .description("revoke a lease, deleting its keys")
    .action(
      clientAction(async (session, id: string, flags: ConnectionFlags) => {
        const response = await session.call("Lease", "LeaseRevoke", { ID: parseLeaseId(id) });
        if (flags.writeOut === "json") writeJson(response, "LeaseRevokeResponse");
        else write(`lease ${hexId(parseLeaseId(id))} revoked\n`);
      }),
    );
  withConnectionFlags(lease.command("timetolive <id>"))
    .description("a lease's granted and remaining TTL")
    .option("--keys", "list the keys attached to it")
    .action(
      clientAction(async (session, id: string, flags: { keys?: boolean } & ConnectionFlags) => {
        const response = await session.call("Lease", "LeaseTimeToLive", {
          ID: parseLeaseId(id),
          keys: flags.keys === true,
        });
        if (flags.writeOut === "json") return writeJson(response, "LeaseTimeToLiveResponse");
        const hex = hexId(response.ID);
        if (response.TTL === "-1") return void write(`lease ${hex} already expired\n`);
        const keys = flags.keys
          ? `, attached keys([${response.keys.map((k: Buffer) => k.toString("utf8")).join(" ")}])`
          : "";
        write(
          `lease ${hex} granted with TTL(${response.grantedTTL}s), remaining(${response.TTL}s)${keys}\n`,
        );
      }),
    );
  withConnectionFlags(lease.command("list"))
    .description("every lease's id")
    .action(
      clientAction(async (session, flags: ConnectionFlags) => {
        const response = await session.call("Lease", "LeaseLeases", {});
        if (flags.writeOut === "json") return writeJson(response, "LeaseLeasesResponse");
        write(
          `found ${response.leases.length} leases\n${response.leases.map((l: any) => `${hexId(l.ID)}\n`).join("")}`,
        );
      }),
    );
  withConnectionFlags(lease.command("keep-alive <id>"))
    .description("keep a lease alive until Ctrl-C (or once with --once)")
    .option("--once", "renew once and exit")
    .action(
      clientAction(async (session, id: string, flags: { once?: boolean } & ConnectionFlags) => {
        await keepAlive(session, parseLeaseId(id), flags.once === true, flags.writeOut === "json");
      }),
    );
}

async function keepAlive(
  session: Session,
  id: string,
  once: boolean,
  json: boolean,
): Promise<void> {
  const { client, metadata } = await session.stream("Lease");
  const stream = client.LeaseKeepAlive(metadata);
  let timer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve, reject) => {
    const stop = () => {
      clearTimeout(timer);
      stream.cancel();
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    stream.on("data", (response: any) => {
      if (response.TTL === "0") {
        clearTimeout(timer);
        stream.cancel();
        reject(new CommanderError(1, "qmesh.lease", `lease ${hexId(id)} expired or revoked`));
        return;
      }
      if (json) writeJson(response, "LeaseKeepAliveResponse");
      else write(`lease ${hexId(response.ID)} keepalived with TTL(${response.TTL})\n`);
      if (once) return stop();
      // Renew at a third of the TTL, as etcd's clients do.
      timer = setTimeout(() => stream.write({ ID: id }), (Number(response.TTL) * 1000) / 3);
    });
    stream.on("error", (error: { code?: number }) => {
      clearTimeout(timer);
      if (error.code === 1) resolve();
      else reject(requestError(error));
    });
    stream.on("end", () => {
      clearTimeout(timer);
      resolve();
    });
    stream.write({ ID: id });
  });
}
