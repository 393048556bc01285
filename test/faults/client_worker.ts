// One client process of a fault run: several logical clients doing puts, gets (linearizable and
// serializable), deletes and compare-and-swaps over a small key space through the etcd v3 API,
// plus one watch stream. Every operation is appended to JSON Lines files as it completes, so a
// history survives even if this process dies. Started by run.ts with fork(); stops on "stop".
import { appendFileSync } from "node:fs";
import { connectEtcd, type EtcdClient } from "../../src/api/grpc/client.ts";
import type { KvOperation } from "../../src/check/index.ts";
import { SeededRandom } from "../../src/raft/index.ts";
import { watchKeyspace } from "./watch_recorder.ts";
import { KEY_PREFIX, type WorkerConfig, type WorkerReport } from "./worker_protocol.ts";

const config = JSON.parse(process.argv[2]!) as WorkerConfig;
const seeded = new SeededRandom(config.seed);
const random = () => seeded.nextFloat();
const clients = config.endpoints.map((endpoint) =>
  connectEtcd(endpoint, { timeoutMs: config.opTimeoutMs }),
);
const report: WorkerReport = { ok: 0, failed: 0, unknown: 0, writeSuccessTimes: [] };
let stopping = false;
/** Operations begun; the process stops beginning new ones at config.maxOperations. */
let started = 0;
let nextClientId = config.clientBase;
let nextValue = 0;
/** The value each key last had in an operation of this process that completed. */
const lastSeen = new Map<string, string | null>();

const now = () => Number(process.hrtime.bigint());
const key = (index: number) => `k${index}`;
const encode = (text: string) => Buffer.from(`${KEY_PREFIX}${text}`);

function refused(error: { details?: string; message?: string }): boolean {
  return /No connection established|ECONNREFUSED|UNAVAILABLE/i.test(
    `${error.details} ${error.message}`,
  );
}

/** A write whose error says it never reached a leader took no effect; any other error may have. */
function definitelyFailed(error: { code?: number; details?: string; message?: string }): boolean {
  const text = `${error.details ?? ""} ${error.message ?? ""}`;
  return (
    error.code === 8 /* RESOURCE_EXHAUSTED: NOSPACE, refused before proposing */ ||
    error.code === 3 /* INVALID_ARGUMENT */ ||
    /No connection established|ECONNREFUSED/.test(text)
  );
}

function record(file: string, op: KvOperation): void {
  appendFileSync(file, `${JSON.stringify(op)}\n`);
}

interface Planned {
  readonly op: KvOperation["op"];
  readonly key: string;
  readonly value: string | null;
  readonly expect: string | null;
  readonly serializable: boolean;
}

/** Picks the next operation: a quarter puts, a quarter linearizable gets, then cas, deletes. */
function plan(client: number): Planned {
  const roll = random();
  const k = key(Math.floor(random() * config.keyCount));
  const value = `v${config.clientBase}-${nextValue++}`;
  const op = { key: k, value: null, expect: null, serializable: false };
  if (roll < 0.25) return { ...op, op: "put", value };
  if (roll < 0.5) return { ...op, op: "get" };
  if (roll < 0.55) return { ...op, op: "get", serializable: true };
  if (roll < 0.65) return { ...op, op: "delete" };
  if (roll < 0.9) {
    // Compare against what this process last saw in the key, so that many swaps succeed.
    const expect = random() < 0.2 ? null : (lastSeen.get(k) ?? null);
    return { ...op, op: "cas", value, expect };
  }
  // A key written once and never again: the plainest check that acknowledged writes survive.
  return { ...op, op: "put", key: `u${client}-${nextValue}`, value };
}

async function execute(step: Planned, endpoint: EtcdClient): Promise<Partial<KvOperation>> {
  const k = encode(step.key);
  switch (step.op) {
    case "put":
      await endpoint.call("KV", "Put", { key: k, value: Buffer.from(step.value!) });
      return {};
    case "get": {
      const response = await endpoint.call("KV", "Range", {
        key: k,
        serializable: step.serializable,
      });
      const kv = response.kvs[0];
      return { output: kv === undefined ? null : Buffer.from(kv.value).toString() };
    }
    case "delete":
      await endpoint.call("KV", "DeleteRange", { key: k });
      return {};
    case "cas": {
      const compare =
        step.expect === null
          ? { key: k, target: 1 /* CREATE */, result: 0 /* EQUAL */, create_revision: "0" }
          : { key: k, target: 3 /* VALUE */, result: 0, value: Buffer.from(step.expect) };
      const response = await endpoint.call("KV", "Txn", {
        compare: [compare],
        success: [{ request_put: { key: k, value: Buffer.from(step.value!) } }],
        failure: [],
      });
      return { ok: response.succeeded === true };
    }
  }
}

async function oneOperation(
  client: number,
  endpoint: EtcdClient,
): Promise<{ unknown: boolean; refused: boolean }> {
  const step = plan(client);
  const op: KvOperation = {
    client,
    op: step.op,
    key: step.key,
    value: step.value,
    expect: step.expect,
    ok: null,
    output: null,
    call: now(),
    return: null,
  };
  const isWrite = step.op !== "get";
  try {
    Object.assign(op, await execute(step, endpoint));
    op.return = now();
  } catch (error) {
    // A failed read took no effect and constrains nothing: it is left out of the history.
    if (!isWrite || definitelyFailed(error as object)) {
      report.failed++;
      return { unknown: false, refused: refused(error as object) };
    }
    report.unknown++;
    record(config.historyFile, op);
    return { unknown: true, refused: refused(error as object) };
  }
  report.ok++;
  if (op.op === "get") lastSeen.set(op.key, op.output);
  else if (op.op === "delete") lastSeen.set(op.key, null);
  else if (op.op === "put" || op.ok === true) lastSeen.set(op.key, op.value);
  if (isWrite) report.writeSuccessTimes.push(op.return);
  record(step.serializable ? config.serializableFile : config.historyFile, op);
  return { unknown: false, refused: false };
}

async function logicalClient(slot: number): Promise<void> {
  let client = nextClientId++;
  // Pinned to one member, as Jepsen's clients are, so that a member cut off from the others
  // keeps getting requests; moves on only when its member refuses connections.
  let target = (config.clientBase + slot) % config.pinnedCount;
  while (!stopping && started < config.maxOperations) {
    started++;
    const outcome = await oneOperation(client, clients[target]!);
    // After an unknown outcome the operation may still be pending: a new client id keeps each
    // id's operations sequential, as the checker's model assumes.
    if (outcome.unknown) client = nextClientId++;
    if (outcome.refused) {
      // Its member is down or not yet added: try another rather than spin on this one.
      target = Math.floor(random() * clients.length);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

process.on("message", (message: { type?: string }) => {
  if (message.type === "stop") stopping = true;
});

process.send?.({ type: "ready" });
const watch = watchKeyspace(config);
await Promise.all(Array.from({ length: config.concurrency }, (_, slot) => logicalClient(slot)));
await watch;
for (const client of clients) client.close();
// Disconnect only once the report is flushed: a long run's report is megabytes, and an early
// disconnect dropped it (the hour-long soak's client exited without reporting).
process.send?.({ type: "done", report }, undefined, {}, () => process.disconnect?.());
