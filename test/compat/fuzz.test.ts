// Bounded fuzzing of a live 3-member qmesh cluster's client port: random bytes as the body of
// every method of every service, valid requests with hostile fields, unknown methods, malformed
// HTTP/1.1 JSON and raw garbage. Every reply must be a well-formed gRPC status (or HTTP response)
// within its deadline; afterwards every member is alive, serves a put and a get, and the
// members' KV hashes agree. The seed is printed on failure (QMESH_FUZZ_SEED replays it).
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { connectEtcd } from "../../src/api/grpc/client.ts";
import { services } from "../../src/api/grpc/proto.ts";
import { eventually, TestCluster } from "../process/harness.ts";

const NAMES = ["f1", "f2", "f3"];
const FUZZ_MS = 10_000;
const DEADLINE_MS = 3_000;
/** Methods that may legitimately wait for their deadline (streams, blocking lock/campaign). */
const MAY_BLOCK = /Watch|KeepAlive|Snapshot|Observe|Lock\/Lock|Campaign/;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Outcome {
  readonly what: string;
  readonly code: number | "hang" | "http";
  readonly details?: string | undefined;
}

const identity = (buffer: Buffer) => buffer;

/** Every method of every service, with its path and streaming shape. */
const METHODS = Object.values(services).flatMap((ctor) =>
  Object.values(ctor.service).map((method) => ({
    path: method.path,
    requestStream: method.requestStream,
    responseStream: method.responseStream,
  })),
);

function rawCall(
  client: grpc.Client,
  method: { path: string; requestStream: boolean; responseStream: boolean },
  body: Buffer,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const deadline = Date.now() + DEADLINE_MS;
    const hang = setTimeout(
      () => resolve({ what: method.path, code: "hang" }),
      DEADLINE_MS + 2_000,
    );
    const done = (code: number, details?: string) => {
      clearTimeout(hang);
      resolve({ what: method.path, code, details });
    };
    if (!method.requestStream && !method.responseStream) {
      client.makeUnaryRequest(method.path, identity, identity, body, { deadline }, (error) =>
        done(error === null ? 0 : (error.code ?? -1), error?.details),
      );
      return;
    }
    const call = method.requestStream
      ? client.makeBidiStreamRequest(method.path, identity, identity, new grpc.Metadata(), {
          deadline,
        })
      : client.makeServerStreamRequest(method.path, identity, identity, body, new grpc.Metadata(), {
          deadline,
        });
    call.on("data", () => {});
    call.on("error", () => {});
    call.on("status", (status: grpc.StatusObject) => done(status.code, status.details));
    if (method.requestStream) {
      const writable = call as grpc.ClientDuplexStream<Buffer, Buffer>;
      writable.write(body);
      writable.end();
    }
  });
}

function randomBytes(random: () => number, max: number): Buffer {
  const length = Math.floor(random() ** 3 * max);
  const buffer = Buffer.alloc(length);
  for (let i = 0; i < length; i++) buffer[i] = Math.floor(random() * 256);
  return buffer;
}

/** Valid request shapes with hostile fields; each must get an answer, success or etcd's error. */
function hostileRequests(random: () => number): [string, string, object][] {
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const bigInt = pick([
    "9223372036854775807",
    "-9223372036854775808",
    "-1",
    "0",
    "18446744073709551615",
  ]);
  const key = pick([Buffer.alloc(0), Buffer.from("k"), Buffer.alloc(4096, 0xff), Buffer.from([0])]);
  let nested: object = {
    compare: [],
    success: [{ request_put: { key: Buffer.from("n"), value: Buffer.from("v") } }],
  };
  for (let depth = 0; depth < 1 + Math.floor(random() * 60); depth++) {
    nested = { compare: [], success: [{ request_txn: nested }], failure: [] };
  }
  return [
    [
      "KV",
      "Range",
      {
        key,
        range_end: pick([Buffer.alloc(0), Buffer.from([0])]),
        limit: bigInt,
        revision: bigInt,
        sort_order: pick([0, 2, 7, 99]),
        sort_target: pick([0, 4, 42]),
      },
    ],
    ["KV", "Put", { key, value: Buffer.alloc(pick([0, 10, 1_600_000]), 0x61), lease: bigInt }],
    ["KV", "DeleteRange", { key, range_end: key, prev_kv: true }],
    ["KV", "Txn", nested],
    [
      "KV",
      "Txn",
      {
        compare: [{ result: pick([0, 3, 77]), target: pick([0, 3, 55]), key, version: bigInt }],
        success: [],
        failure: [],
      },
    ],
    ["KV", "Compact", { revision: bigInt, physical: random() < 0.5 }],
    ["Lease", "LeaseGrant", { TTL: bigInt, ID: bigInt }],
    ["Lease", "LeaseRevoke", { ID: bigInt }],
    ["Lease", "LeaseTimeToLive", { ID: bigInt, keys: true }],
    ["Cluster", "MemberRemove", { ID: bigInt }],
    ["Cluster", "MemberPromote", { ID: bigInt }],
    [
      "Cluster",
      "MemberAdd",
      { peerURLs: pick([[], ["not a url"], ["http://127.0.0.1:1"]]), isLearner: true },
    ],
    ["Maintenance", "HashKV", { revision: bigInt }],
    ["Maintenance", "MoveLeader", { targetID: bigInt }],
    [
      "Maintenance",
      "Alarm",
      { action: pick([0, 1, 2, 9]), memberID: bigInt, alarm: pick([0, 1, 2, 9]) },
    ],
    ["Auth", "UserAdd", { name: pick(["", "x".repeat(10_000)]), password: "" }],
    ["Auth", "RoleGrantPermission", { name: "nope", perm: { permType: pick([0, 5]), key } }],
    ["Auth", "Authenticate", { name: "root", password: "wrong" }],
  ];
}

/** Errors etcd itself returns with code Unknown (plain Go errors in v3election/v3lock). */
const ETCD_UNKNOWN =
  /^("leader" field must be provided|election: (no leader|not leader)|session expired)$/;

const MALFORMED_HTTP: readonly (string | Buffer)[] = [
  "POST /v3/kv/put HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{not json",
  "POST /v3/kv/range HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n[]",
  'POST /v3/kv/put HTTP/1.1\r\nHost: x\r\nContent-Length: 22\r\n\r\n{"key":123,"value":{}}',
  'POST /v3/kv/put HTTP/1.1\r\nHost: x\r\nContent-Length: 25\r\n\r\n{"key":"%%%","value":"!"}',
  `POST /v3/kv/txn HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n${"[".repeat(10_000)}${"]".repeat(10_000)}`,
  "GET /v3/nope HTTP/1.1\r\nHost: x\r\n\r\n",
  "POST /v3/watch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  "BREW /coffee HTCPCP/1.0\r\n\r\n",
  Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x01, 0x00]),
  Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x04\x01\x00\x00\x00\x00\x00garbage"),
];

/** Sends raw bytes; resolves once the server answered something or closed, never a hang. */
function rawSocket(port: number, payload: string | Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let reply = "";
    const finish = (code: Outcome["code"]) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ what: `raw ${String(payload).slice(0, 30)}`, code, details: reply.slice(0, 80) });
    };
    const timer = setTimeout(() => finish(reply === "" ? "hang" : "http"), 3_000);
    socket.on("data", (chunk) => {
      reply += chunk.toString("latin1");
      if (reply.includes("\r\n\r\n") || reply.length > 8) finish("http");
    });
    socket.on("error", () => finish("http"));
    socket.on("close", () => finish("http"));
    socket.write(payload);
  });
}

describe("fuzzing a live qmesh cluster's client port", { timeout: 60_000 }, () => {
  const seed = Number(process.env.QMESH_FUZZ_SEED ?? Date.now() % 2 ** 31);
  const cluster = new TestCluster();
  before(async () => {
    await cluster.define(NAMES);
    await Promise.all(NAMES.map((name) => cluster.start(name, NAMES)));
    await cluster.waitForLeader(NAMES);
  });
  after(() => cluster.destroy());

  it(`answers every request with a status and stays consistent (seed ${seed})`, async () => {
    const random = mulberry32(seed);
    const addresses = NAMES.map((name) => cluster.spec(name).clientUrl.replace("http://", ""));
    const raw = addresses.map((a) => new grpc.Client(a, grpc.credentials.createInsecure()));
    const typed = NAMES.map((name) =>
      connectEtcd(cluster.spec(name).clientUrl, { timeoutMs: DEADLINE_MS }),
    );
    const outcomes: Outcome[] = [];
    const deadline = Date.now() + FUZZ_MS;
    const worker = async () => {
      while (Date.now() < deadline) {
        const member = Math.floor(random() * NAMES.length);
        const roll = random();
        if (roll < 0.55) {
          const method = METHODS[Math.floor(random() * METHODS.length)]!;
          outcomes.push(await rawCall(raw[member]!, method, randomBytes(random, 512)));
        } else if (roll < 0.85) {
          const requests = hostileRequests(random);
          const [service, method, request] = requests[Math.floor(random() * requests.length)]!;
          const what = `${service}.${method}`;
          const outcome = await typed[member]!.call(service as "KV", method, request).then(
            () => ({ what, code: 0 }),
            (error: grpc.ServiceError) => ({
              what,
              code: error.code ?? -1,
              details: error.details,
            }),
          );
          outcomes.push(outcome);
        } else if (roll < 0.92) {
          const path = random() < 0.5 ? "/etcdserverpb.KV/Nope" : "/nope.Nothing/Method";
          const method = { path, requestStream: false, responseStream: false };
          outcomes.push(await rawCall(raw[member]!, method, randomBytes(random, 64)));
        } else {
          const payload = MALFORMED_HTTP[Math.floor(random() * MALFORMED_HTTP.length)]!;
          const port = Number(new URL(cluster.spec(NAMES[member]!).clientUrl).port);
          outcomes.push(await rawSocket(port, payload));
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    for (const client of raw) client.close();

    const bad = outcomes.filter(
      (o) =>
        (o.code === "hang" && !MAY_BLOCK.test(o.what)) ||
        (typeof o.code === "number" && (o.code < 0 || o.code > 16)) ||
        (o.code === grpc.status.UNKNOWN && !ETCD_UNKNOWN.test(o.details ?? "")) ||
        (o.code === grpc.status.DEADLINE_EXCEEDED && !MAY_BLOCK.test(o.what)),
    );
    const replay = `replay with QMESH_FUZZ_SEED=${seed}`;
    assert.ok(outcomes.length > 50, `only ${outcomes.length} requests sent; ${replay}`);
    assert.deepEqual(
      bad.slice(0, 20),
      [],
      `${bad.length} bad outcomes of ${outcomes.length}; ${replay}`,
    );
    for (const name of NAMES) {
      assert.equal(
        cluster.processes.get(name)?.exitCode,
        null,
        `${name} died: ${cluster.output.get(name)}; ${replay}`,
      );
    }
    // The fuzzer may legitimately raise alarms (Alarm ACTIVATE): an operator disarms them.
    const alarms = await typed[0]!.call("Maintenance", "Alarm", { action: 0 });
    for (const alarm of alarms.alarms as { memberID: string; alarm: number }[]) {
      await typed[0]!.call("Maintenance", "Alarm", { action: 2, ...alarm });
    }
    for (const name of NAMES) {
      await cluster.put(name, `after-fuzz/${name}`, "ok");
      assert.equal(await cluster.get(name, `after-fuzz/${name}`), "ok", replay);
    }

    await eventually(async () => {
      const hashes = await Promise.all(
        typed.map((client) => client.call("Maintenance", "HashKV", { revision: "0" })),
      );
      assert.equal(
        new Set(hashes.map((h) => String(h.hash))).size,
        1,
        `${JSON.stringify(hashes)}; ${replay}`,
      );
    }, 10_000);
    for (const client of typed) client.close();
  });
});
