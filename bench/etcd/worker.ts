// A load worker (forked by bench/etcd/pool.ts): one gRPC connection per member endpoint, reused
// across phases; per phase it runs the requested loops of unary calls (put, get, txn or a bulk
// load), optionally with a watcher, and reports latencies and its own CPU to the parent.
import * as grpc from "@grpc/grpc-js";
import { services } from "../../src/api/grpc/proto.ts";
import { prefixEnd } from "../../src/kv/bytes.ts";
import { keyOf, nowUs, type WorkResult, type WorkSpec } from "./work.ts";

const credentials = grpc.credentials.createInsecure();
const kvClients = new Map<string, grpc.Client>();

// biome-ignore lint/suspicious/noExplicitAny: grpc-js methods generated from the .proto are untyped
type AnyClient = any;

function kvClient(endpoint: string): AnyClient {
  let client = kvClients.get(endpoint);
  if (client === undefined) {
    client = new services.KV(endpoint, credentials, { "grpc.max_receive_message_length": -1 });
    kvClients.set(endpoint, client);
  }
  return client;
}

function ready(client: grpc.Client): Promise<void> {
  return new Promise((resolve, reject) =>
    client.waitForReady(Date.now() + 10_000, (error) => (error ? reject(error) : resolve())),
  );
}

const KV = services.KV.service;

/**
 * A unary KV call through grpc-js's generic path. Requests are encoded by the service definition;
 * Put and Range replies are left undecoded (only their status matters here), which keeps the
 * load generator's CPU per request low.
 */
function unary(
  client: AnyClient,
  method: "Put" | "Range" | "Txn",
  request: object,
): Promise<AnyClient> {
  const definition = KV[method]!;
  const decode = method === "Txn" ? definition.responseDeserialize : (bytes: Buffer) => bytes;
  return new Promise((resolve, reject) =>
    (client as grpc.Client).makeUnaryRequest(
      definition.path,
      definition.requestSerialize,
      decode,
      request,
      (error: grpc.ServiceError | null, response?: unknown) =>
        error ? reject(error) : resolve(response),
    ),
  );
}

function putValue(spec: WorkSpec): Buffer {
  const stamp = spec.stamped ? String(nowUs()) : "";
  return Buffer.from(stamp.padEnd(spec.valueBytes, "a"));
}

const randomKey = (spec: WorkSpec) =>
  Buffer.from(keyOf(spec.prefix, Math.floor(Math.random() * spec.keyspace)));

/** One operation of a timed phase; throws if the server refused it. */
async function operate(spec: WorkSpec, client: AnyClient): Promise<void> {
  switch (spec.kind) {
    case "put":
      await unary(client, "Put", { key: randomKey(spec), value: putValue(spec) });
      return;
    case "get":
    case "getSerializable":
      await unary(client, "Range", {
        key: randomKey(spec),
        serializable: spec.kind === "getSerializable",
      });
      return;
    case "txn": {
      // One compare (always true) and three puts on distinct keys: 4 operations.
      const keys = new Set<string>();
      while (keys.size < 3) keys.add(keyOf(spec.prefix, Math.floor(Math.random() * spec.keyspace)));
      const [first, ...rest] = [...keys].map((key) => Buffer.from(key));
      const response = await unary(client, "Txn", {
        compare: [{ result: 2, target: 2, key: first, mod_revision: "9007199254740991" }],
        success: [first!, ...rest].map((key) => ({
          request_put: { key, value: putValue(spec) },
        })),
        failure: [],
      });
      if (!response.succeeded) throw new Error("txn compare failed");
      return;
    }
    case "load":
      throw new Error("load is not a timed operation");
  }
}

interface Tally {
  ops: number;
  errors: number;
  firstError: string | null;
  latenciesUs: number[];
}

function failed(tally: Tally, error: unknown): void {
  tally.errors++;
  tally.firstError ??= error instanceof Error ? error.message : String(error);
}

async function timedLoops(spec: WorkSpec, tally: Tally, loopBase: number): Promise<void> {
  const deadline = spec.startAt + spec.seconds * 1000;
  await Promise.all(
    Array.from({ length: spec.loops }, async (_, loop) => {
      for (let i = loopBase + loop; Date.now() < deadline; i++) {
        const client = kvClient(spec.endpoints[i % spec.endpoints.length]!);
        const start = performance.now();
        try {
          await operate(spec, client);
          tally.ops++;
          tally.latenciesUs.push(Math.round((performance.now() - start) * 1000));
        } catch (error) {
          failed(tally, error);
        }
      }
    }),
  );
}

async function loadKeys(spec: WorkSpec, tally: Tally): Promise<void> {
  const { from, to, batch } = spec.load!;
  let next = from;
  const value = Buffer.alloc(spec.valueBytes, 0x61);
  await Promise.all(
    Array.from({ length: spec.loops }, async (_, loop) => {
      for (let i = loop; next < to; i++) {
        const first = next;
        const last = Math.min(to, first + batch);
        next = last;
        const success = [];
        for (let n = first; n < last; n++)
          success.push({ request_put: { key: Buffer.from(keyOf(spec.prefix, n)), value } });
        const start = performance.now();
        try {
          await unary(kvClient(spec.endpoints[i % spec.endpoints.length]!), "Txn", { success });
          tally.ops += last - first;
          tally.latenciesUs.push(Math.round((performance.now() - start) * 1000));
        } catch (error) {
          failed(tally, error);
        }
      }
    }),
  );
}

/** Opens a watch on the phase's prefix; resolves once the server confirmed it. */
async function watch(spec: WorkSpec, latenciesUs: number[]): Promise<() => void> {
  const endpoint = spec.watchEndpoint!;
  const client: AnyClient = new services.Watch(endpoint, credentials, {
    channelOverride: kvClient(endpoint).getChannel(),
  });
  const stream = client.Watch();
  stream.on("error", () => {
    // cancelled at the end of the phase
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`watch on ${endpoint} not created`)), 10_000);
    stream.on("data", (response: AnyClient) => {
      if (response.created) {
        clearTimeout(timer);
        resolve();
      }
      const received = nowUs();
      for (const event of response.events ?? []) {
        const sent = Number.parseInt(event.kv.value.toString("latin1"), 10);
        if (Number.isFinite(sent)) latenciesUs.push(received - sent);
      }
    });
    stream.write({
      create_request: {
        key: Buffer.from(spec.prefix),
        range_end: prefixEnd(Buffer.from(spec.prefix)),
      },
    });
  });
  return () => {
    stream.cancel();
    client.close();
  };
}

async function run(spec: WorkSpec, loopBase: number): Promise<WorkResult> {
  const cpuBefore = process.cpuUsage();
  const tally: Tally = { ops: 0, errors: 0, firstError: null, latenciesUs: [] };
  const watchLatenciesUs: number[] = [];
  await Promise.all(spec.endpoints.map((endpoint) => ready(kvClient(endpoint))));
  const stopWatch = spec.watchEndpoint === undefined ? null : await watch(spec, watchLatenciesUs);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, spec.startAt - Date.now())));
  if (spec.kind === "load") await loadKeys(spec, tally);
  else await timedLoops(spec, tally, loopBase);
  if (stopWatch !== null) {
    // Events of the last writes are still in flight when the writers stop.
    const lingerUntil = spec.startAt + spec.seconds * 1000 + 500;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, lingerUntil - Date.now())));
    stopWatch();
  }
  const cpu = process.cpuUsage(cpuBefore);
  return { ...tally, watchLatenciesUs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

process.on("message", (message: { spec: WorkSpec; loopBase: number }) => {
  run(message.spec, message.loopBase).then(
    (result) => process.send!({ result }),
    (error: Error) => process.send!({ error: error.stack ?? error.message }),
  );
});
process.on("disconnect", () => process.exit(0));
