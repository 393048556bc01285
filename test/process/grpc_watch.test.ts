// etcd's Watch service over gRPC on a 3-member cluster, as clientv3 and etcdctl use it: replay
// from an old revision then live events, cancel, progress, filters, prev_kv, a compacted start
// revision, duplicate ids, fragments, several watchers on one stream.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, test } from "node:test";
import { connectEtcd, type EtcdClient } from "../../src/api/grpc/client.ts";
import { eventually, TestCluster } from "./harness.ts";

const NAMES = ["n1", "n2", "n3"];
const cluster = new TestCluster();
let client: EtcdClient;
let follower: string;

// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf messages
type Msg = any;

/** A Watch stream with every response it received. */
function openWatch(on: EtcdClient = client) {
  const stream = on.raw("Watch").Watch();
  const responses: Msg[] = [];
  stream.on("data", (r: Msg) => responses.push(r));
  stream.on("error", () => {});
  return {
    responses,
    create: (req: object) => stream.write({ create_request: req }),
    cancel: (id: number) => stream.write({ cancel_request: { watch_id: id } }),
    progress: () => stream.write({ progress_request: {} }),
    close: () => stream.cancel(),
    /** Waits until a response matches; returns it. */
    until: (match: (r: Msg) => boolean) =>
      eventually(async () => {
        const found = responses.find(match);
        assert.ok(
          found,
          JSON.stringify(responses, (_k, v) => (v?.type === "Buffer" ? "" : v)),
        );
        return found;
      }, 10_000),
  };
}

const events = (responses: Msg[], id: number) =>
  responses
    .filter((r) => Number(r.watch_id) === id)
    .flatMap((r: Msg) => r.events)
    .map((e: Msg) => `${e.type === 0 ? "PUT" : "DELETE"} ${e.kv.key}=${e.kv.value}`);

const B = (text: string) => Buffer.from(text);
const put = (key: string, value: string) =>
  client.call("KV", "Put", { key: B(key), value: B(value) });

before(async () => {
  await cluster.define(NAMES);
  await Promise.all(NAMES.map((name) => cluster.start(name, NAMES)));
  const leader = await cluster.waitForLeader(NAMES);
  follower = NAMES.find((n) => n !== leader)!;
  client = connectEtcd(cluster.spec(follower).clientUrl);
});
after(async () => {
  client?.close();
  await cluster.destroy();
});

test("a watch from an old revision replays history, then streams live", {
  timeout: 30_000,
}, async () => {
  const first = await put("w/a", "1");
  await put("w/b", "2");
  await client.call("KV", "DeleteRange", { key: B("w/a") });
  const watch = openWatch();
  watch.create({
    key: B("w/"),
    range_end: B("w0"),
    start_revision: first.header.revision,
    prev_kv: true,
  });
  const created = await watch.until((r) => r.created);
  assert.equal(Number(created.watch_id), 0, "the server's first id on a stream is 0, as etcd's");
  await watch.until((r) => r.events.length > 0);
  await put("w/c", "3");
  await eventually(async () =>
    assert.deepEqual(events(watch.responses, 0), [
      "PUT w/a=1",
      "PUT w/b=2",
      "DELETE w/a=",
      "PUT w/c=3",
    ]),
  );
  const deleted = watch.responses.flatMap((r: Msg) => r.events).find((e: Msg) => e.type === 1);
  assert.equal(String(deleted.prev_kv.value), "1", "prev_kv carries the deleted value");
  watch.close();
});

test("filters, cancel, progress and two watchers on one stream", { timeout: 30_000 }, async () => {
  const watch = openWatch();
  watch.create({ key: B("f/"), range_end: B("f0"), filters: [0] }); // NOPUT
  watch.create({ key: B("f/"), range_end: B("f0"), watch_id: 7 });
  await watch.until((r) => r.created && Number(r.watch_id) === 7);
  watch.create({ key: B("g"), watch_id: 7 });
  const duplicate = await watch.until((r) => r.canceled && Number(r.watch_id) === -1);
  assert.equal(duplicate.cancel_reason, "mvcc: duplicate watch ID provided on the WatchStream");
  await put("f/x", "1");
  await client.call("KV", "DeleteRange", { key: B("f/x") });
  await eventually(async () => {
    assert.deepEqual(events(watch.responses, 0), ["DELETE f/x="]);
    assert.deepEqual(events(watch.responses, 7), ["PUT f/x=1", "DELETE f/x="]);
  });
  watch.cancel(7);
  const canceled = await watch.until((r) => r.canceled && Number(r.watch_id) === 7);
  assert.equal(canceled.cancel_reason, "");
  watch.progress();
  const progress = await watch.until((r) => Number(r.watch_id) === -1 && !r.canceled);
  const { header } = await client.call("KV", "Range", { key: B("f/x") });
  assert.ok(Number(progress.header.revision) <= Number(header.revision));
  await put("f/y", "2");
  await client.call("KV", "DeleteRange", { key: B("f/y") });
  await eventually(async () =>
    assert.deepEqual(events(watch.responses, 0), ["DELETE f/x=", "DELETE f/y="]),
  );
  assert.deepEqual(events(watch.responses, 7), ["PUT f/x=1", "DELETE f/x="], "canceled: no more");
  watch.close();
});

test("a compacted start revision cancels the watch with compact_revision", {
  timeout: 30_000,
}, async () => {
  const old = await put("c/k", "1");
  const now = await put("c/k", "2");
  await client.call("KV", "Compact", { revision: now.header.revision });
  const watch = openWatch();
  watch.create({ key: B("c/k"), start_revision: old.header.revision });
  const canceled = await watch.until((r) => r.canceled);
  assert.equal(Number(canceled.compact_revision), Number(now.header.revision));
  assert.ok(watch.responses[0].created, "created comes first");
  watch.close();
});

test("fragment splits a replay larger than the request limit", { timeout: 30_000 }, async () => {
  const value = "x".repeat(600 * 1024); // three of them exceed the 1.5 MiB default
  const first = await put("big/1", value);
  await put("big/2", value);
  await put("big/3", value);
  const watch = openWatch();
  watch.create({
    key: B("big/"),
    range_end: B("big0"),
    start_revision: first.header.revision,
    fragment: true,
  });
  await eventually(async () => assert.equal(events(watch.responses, 0).length, 3));
  const parts = watch.responses.filter((r: Msg) => r.events.length > 0);
  assert.ok(parts.length >= 2, "split into several responses");
  assert.deepEqual(
    parts.map((r: Msg) => r.fragment),
    parts.map((_: Msg, i: number) => i < parts.length - 1),
  );
  watch.close();
});

test("etcdctl watch --rev replays, then sees a live put", { timeout: 30_000 }, async () => {
  const first = await put("e/k", "one");
  await put("e/k", "two");
  const child = execFile("etcdctl", [
    `--endpoints=${cluster.spec(follower).clientUrl}`,
    "watch",
    "e/k",
    `--rev=${first.header.revision}`,
  ]);
  let out = "";
  child.stdout?.on("data", (chunk) => {
    out += chunk;
  });
  try {
    await eventually(async () => assert.match(out, /two/));
    await put("e/k", "three");
    await eventually(async () =>
      assert.equal(out, "PUT\ne/k\none\nPUT\ne/k\ntwo\nPUT\ne/k\nthree\n"),
    );
  } finally {
    child.kill();
  }
});
