// endpoint status | health: each endpoint asked on its own, one line each, as etcdctl prints them.
import type { Command } from "commander";
import { CommanderError } from "commander";
import { hexId, humanBytes, messageJson, write } from "./output.ts";
import {
  type ConnectionFlags,
  clientAction,
  type Session,
  withConnectionFlags,
} from "./session.ts";

interface Outcome<T> {
  endpoint: string;
  value?: T;
  error?: string;
}

async function eachEndpoint<T>(
  session: Session,
  ask: (single: Session) => Promise<T>,
): Promise<Outcome<T>[]> {
  return Promise.all(
    session.endpoints.map(async (endpoint) => {
      const single = session.only(endpoint);
      try {
        return { endpoint, value: await ask(single) };
      } catch (error) {
        return { endpoint, error: (error as Error).message };
      } finally {
        single.close();
      }
    }),
  );
}

export function addEndpointCommands(program: Command): void {
  const endpoint = program
    .command("endpoint")
    .description("status and health of each endpoint in --endpoints");
  withConnectionFlags(endpoint.command("status"))
    .description(
      "endpoint, id, version, db size, is leader, is learner, raft term, raft index, applied index, errors",
    )
    .action(
      clientAction(async (session, flags: ConnectionFlags) => {
        const outcomes = await eachEndpoint(session, (single) =>
          single.call("Maintenance", "Status", {}),
        );
        const json = outcomes
          .filter((o) => o.value !== undefined)
          .map(
            (o) =>
              `{"Endpoint":${JSON.stringify(o.endpoint)},"Status":${messageJson(o.value, "StatusResponse")}}`,
          );
        if (flags.writeOut === "json") write(`[${json.join(",")}]\n`);
        for (const { endpoint: name, value: s, error } of outcomes) {
          if (error !== undefined) process.stderr.write(`qmesh: ${name}: ${error}\n`);
          else if (flags.writeOut === "simple")
            write(
              `${name}, ${hexId(s.header.member_id, 0)}, ${s.version}, ${humanBytes(Number(s.dbSize))}, ${s.leader === s.header.member_id}, ${s.isLearner}, ${s.raftTerm}, ${s.raftIndex}, ${s.raftAppliedIndex}, ${s.errors.join(", ")}\n`,
            );
        }
        if (outcomes.some((o) => o.error !== undefined))
          throw new CommanderError(1, "qmesh.endpoint", "some endpoints did not answer");
      }),
    );
  withConnectionFlags(endpoint.command("health"))
    .description("whether each endpoint commits a linearizable read in time")
    .action(
      clientAction(async (session, flags: ConnectionFlags) => {
        const outcomes = await eachEndpoint(session, async (single) => {
          const started = process.hrtime.bigint();
          // etcdctl's probe: a linearizable read needs the leader and a quorum.
          await single.call("KV", "Range", { key: Buffer.from("health") });
          return Number(process.hrtime.bigint() - started) / 1e6;
        });
        if (flags.writeOut === "json")
          write(
            `${JSON.stringify(outcomes.map((o) => ({ endpoint: o.endpoint, health: o.error === undefined, took: o.value === undefined ? undefined : `${o.value}ms`, error: o.error })))}\n`,
          );
        else
          for (const { endpoint: name, value: tookMs, error } of outcomes) {
            if (error === undefined)
              write(
                `${name} is healthy: successfully committed proposal: took = ${tookMs!.toFixed(6)}ms\n`,
              );
            else
              process.stderr.write(`${name} is unhealthy: failed to commit proposal: ${error}\n`);
          }
        if (outcomes.some((o) => o.error !== undefined))
          throw new CommanderError(1, "qmesh.endpoint", "unhealthy cluster");
      }),
    );
}
