// Thin client commands (put, get, del, watch, member, status) over a member's JSON API, in
// etcdctl's spirit: output is the value (or key and value) per line; errors are one line.
import { type Command, CommanderError, Option } from "commander";

const DEFAULT_ENDPOINTS = "http://127.0.0.1:2379";

type Json = Record<string, unknown>;

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
const text = (value: unknown) =>
  typeof value === "string" ? Buffer.from(value, "base64").toString("utf8") : "";

/** The range end that selects every key with the given prefix (etcd's clientv3.GetPrefixRangeEnd). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

export async function call(endpoints: string, path: string, body: Json): Promise<Json> {
  const failures: string[] = [];
  for (const endpoint of endpoints.split(",")) {
    try {
      const response = await fetch(`${endpoint.replace(/\/$/, "")}${path}`, {
        method: "POST",
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const json = (await response.json()) as Json;
      if (!response.ok)
        throw new CommanderError(1, "qmesh.request", String(json.message ?? response.statusText));
      return json;
    } catch (error) {
      if (error instanceof CommanderError) throw error;
      failures.push(`${endpoint}: ${(error as Error).message}`);
    }
  }
  throw new CommanderError(
    1,
    "qmesh.unreachable",
    `no endpoint answered (${failures.join("; ")}); is the cluster up (\`qmesh up\`)?`,
  );
}

const endpointsOption = () =>
  new Option("--endpoints <urls>", "client URLs, comma separated").default(DEFAULT_ENDPOINTS);

function rangeOf(key: string, options: { prefix?: boolean; fromKey?: boolean }): Json {
  if (options.prefix)
    return { key: b64(key), range_end: prefixEnd(Buffer.from(key)).toString("base64") };
  if (options.fromKey) return { key: b64(key), range_end: "AA==" };
  return { key: b64(key) };
}

export function addClientCommands(program: Command): void {
  program
    .command("put <key> <value>")
    .description("write a key")
    .option("--lease <id>", "attach the key to a lease (decimal id)")
    .addOption(endpointsOption())
    .action(async (key: string, value: string, options: { lease?: string; endpoints: string }) => {
      const body: Json = { key: b64(key), value: b64(value) };
      if (options.lease !== undefined) body.lease = options.lease;
      const result = await call(options.endpoints, "/v3/kv/put", body);
      process.stdout.write(`OK (revision ${(result.header as Json).revision})\n`);
    });
  program
    .command("get <key>")
    .description("read a key (or a prefix / range); linearizable unless --serializable")
    .option("--prefix", "every key with this prefix")
    .option("--from-key", "every key from this one on")
    .option("--limit <n>", "at most n keys")
    .option("--rev <revision>", "read as of a past revision")
    .option("--serializable", "read the member's local state (may be stale)")
    .option("--keys-only", "print keys only")
    .addOption(endpointsOption())
    .action(
      async (
        key: string,
        options: {
          prefix?: boolean;
          fromKey?: boolean;
          limit?: string;
          rev?: string;
          serializable?: boolean;
          keysOnly?: boolean;
          endpoints: string;
        },
      ) => {
        const body: Json = {
          ...rangeOf(key, options),
          limit: options.limit,
          revision: options.rev,
          serializable: options.serializable === true,
          keys_only: options.keysOnly === true,
        };
        const result = await call(options.endpoints, "/v3/kv/range", body);
        for (const kv of (result.kvs as Json[] | undefined) ?? []) {
          process.stdout.write(
            options.keysOnly ? `${text(kv.key)}\n` : `${text(kv.key)}\n${text(kv.value)}\n`,
          );
        }
      },
    );
  program
    .command("del <key>")
    .description("delete a key (or a prefix / range)")
    .option("--prefix", "every key with this prefix")
    .option("--from-key", "every key from this one on")
    .addOption(endpointsOption())
    .action(
      async (key: string, options: { prefix?: boolean; fromKey?: boolean; endpoints: string }) => {
        const result = await call(options.endpoints, "/v3/kv/deleterange", rangeOf(key, options));
        process.stdout.write(`${result.deleted ?? 0}\n`);
      },
    );
  program
    .command("watch <key>")
    .description("print changes to a key (or prefix) as they happen; Ctrl-C stops")
    .option("--prefix", "every key with this prefix")
    .option("--rev <revision>", "start from a past revision (replays history)")
    .option("--prev-kv", "print the previous value too")
    .addOption(endpointsOption())
    .action(
      async (
        key: string,
        options: { prefix?: boolean; rev?: string; prevKv?: boolean; endpoints: string },
      ) => {
        await watch(options.endpoints.split(",")[0]!, {
          ...rangeOf(key, options),
          start_revision: options.rev,
          prev_kv: options.prevKv === true,
        });
      },
    );
  program
    .command("status")
    .description("each member's id, leader, term and indexes")
    .addOption(endpointsOption())
    .action(async (options: { endpoints: string }) => {
      for (const endpoint of options.endpoints.split(",")) {
        const s = await call(endpoint, "/v3/maintenance/status", {});
        const h = s.header as Json;
        process.stdout.write(
          `${endpoint}  member ${h.member_id}  leader ${s.leader}  term ${s.raftTerm}  commit ${s.raftIndex}  applied ${s.raftAppliedIndex}  revision ${h.revision}\n`,
        );
      }
    });
  addMemberCommands(program);
}

function addMemberCommands(program: Command): void {
  const member = program
    .command("member")
    .description("list, add, promote or remove members (send to the leader)");
  member
    .command("list")
    .addOption(endpointsOption())
    .action(async (options: { endpoints: string }) => {
      const result = await call(options.endpoints, "/v3/cluster/member/list", {});
      for (const m of result.members as Json[]) {
        process.stdout.write(
          `${m.ID}, ${m.name}, ${(m.peerURLs as string[]).join(",")}, ${((m.clientURLs as string[] | undefined) ?? []).join(",")}, ${m.isLearner ? "learner" : "voter"}\n`,
        );
      }
    });
  member
    .command("add <name>")
    .requiredOption("--peer-url <url>", "the new member's peer URL")
    .option("--learner", "add as a non-voting learner (promote it once caught up)")
    .addOption(endpointsOption())
    .action(
      async (name: string, options: { peerUrl: string; learner?: boolean; endpoints: string }) => {
        const result = await call(options.endpoints, "/v3/cluster/member/add", {
          name,
          peerURLs: [options.peerUrl],
          isLearner: options.learner === true,
        });
        process.stdout.write(`added ${name} with id ${(result.member as Json).ID}\n`);
      },
    );
  for (const [verb, path] of [
    ["remove", "/v3/cluster/member/remove"],
    ["promote", "/v3/cluster/member/promote"],
  ] as const) {
    member
      .command(`${verb} <id>`)
      .addOption(endpointsOption())
      .action(async (id: string, options: { endpoints: string }) => {
        await call(options.endpoints, path, { ID: id });
        process.stdout.write(`${verb}d member ${id}\n`);
      });
  }
}

async function watch(endpoint: string, create: Json): Promise<void> {
  const response = await fetch(`${endpoint}/v3/watch`, {
    method: "POST",
    body: JSON.stringify({ create_request: create }),
  }).catch((error: Error) => {
    throw new CommanderError(1, "qmesh.unreachable", `${endpoint}: ${error.message}`);
  });
  if (!response.ok || response.body === null) {
    throw new CommanderError(1, "qmesh.request", `watch refused: ${await response.text()}`);
  }
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of response.body) {
    pending += decoder.decode(chunk as Uint8Array, { stream: true });
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      newline = pending.indexOf("\n");
      const result = (JSON.parse(line) as { result: Json }).result;
      if (result.canceled)
        throw new CommanderError(1, "qmesh.watch", `watch cancelled: ${result.cancel_reason}`);
      for (const event of (result.events as Json[] | undefined) ?? []) {
        const kv = event.kv as Json;
        process.stdout.write(
          `${event.type ?? "PUT"}\n${text(kv.key)}\n${event.type === "DELETE" ? "" : `${text(kv.value)}\n`}`,
        );
        if (event.prev_kv !== undefined)
          process.stdout.write(`${text((event.prev_kv as Json).value)}\n`);
      }
    }
  }
}
