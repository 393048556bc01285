// etcd's Lease, Lock and Election services over gRPC on a 3-member cluster: grant, keep-alive
// (through a follower), time-to-live with keys, revoke deleting keys, expiry; a lock held by one
// client at a time and released when its lease expires; campaign, leader, observe, resign. The
// same through etcdctl 3.4.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { connectEtcd, type EtcdClient } from "../../src/api/grpc/client.ts";
import { eventually, sleep, TestCluster } from "./harness.ts";

const run = promisify(execFile);
const NAMES = ["n1", "n2", "n3"];
const cluster = new TestCluster();
let leaderClient: EtcdClient;
let followerClient: EtcdClient;
let followerUrl: string;

// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf messages
type Msg = any;
const B = (text: string) => Buffer.from(text);

async function etcdctl(args: string[]) {
  const { stdout } = await run("etcdctl", [`--endpoints=${followerUrl}`, ...args], {
    timeout: 20_000,
  });
  return stdout;
}

const grant = async (ttl: number, on = followerClient) =>
  Number((await on.call("Lease", "LeaseGrant", { TTL: ttl })).ID);

const get = async (key: string) =>
  (await followerClient.call("KV", "Range", { key: B(key) })).kvs as Msg[];

/** Resolves to true if `promise` settles within `ms`. */
const settlesWithin = (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise.then(() => true), sleep(ms).then(() => false)]);

before(async () => {
  await cluster.define(NAMES);
  await Promise.all(NAMES.map((name) => cluster.start(name, NAMES)));
  const leader = await cluster.waitForLeader(NAMES);
  const follower = NAMES.find((n) => n !== leader)!;
  followerUrl = cluster.spec(follower).clientUrl;
  leaderClient = connectEtcd(cluster.spec(leader).clientUrl);
  followerClient = connectEtcd(followerUrl, { timeoutMs: 20_000 });
});
after(async () => {
  leaderClient?.close();
  followerClient?.close();
  await cluster.destroy();
});

test("grant, keep-alive on a follower, time-to-live with keys, revoke", {
  timeout: 30_000,
}, async () => {
  const id = await grant(60);
  await followerClient.call("KV", "Put", { key: B("l/a"), value: B("1"), lease: id });
  const ttl = await followerClient.call("Lease", "LeaseTimeToLive", { ID: id, keys: true });
  assert.equal(Number(ttl.grantedTTL), 60);
  assert.ok(Number(ttl.TTL) > 50 && Number(ttl.TTL) <= 60);
  assert.deepEqual(ttl.keys.map(String), ["l/a"]);

  const stream = followerClient.raw("Lease").LeaseKeepAlive();
  const replies: Msg[] = [];
  stream.on("data", (r: Msg) => replies.push(r));
  stream.write({ ID: id });
  stream.write({ ID: 12345 });
  await eventually(async () => assert.equal(replies.length, 2));
  assert.deepEqual(
    replies.map((r) => [Number(r.ID), Number(r.TTL)]),
    [
      [id, 60],
      [12345, 0],
    ],
    "renewed; an unknown lease answers TTL 0",
  );
  stream.end();

  const watch = followerClient.raw("Watch").Watch();
  const seen: Msg[] = [];
  watch.on("data", (r: Msg) => seen.push(...r.events));
  watch.on("error", () => {});
  watch.write({ create_request: { key: B("l/a") } });
  await sleep(200);
  await followerClient.call("Lease", "LeaseRevoke", { ID: id });
  assert.deepEqual(await get("l/a"), []);
  await eventually(async () => assert.equal(seen[0]?.type, 1, "a DELETE event"));
  watch.cancel();
  const gone = await followerClient.call("Lease", "LeaseTimeToLive", { ID: id });
  assert.equal(Number(gone.TTL), -1);
  const list = await followerClient.call("Lease", "LeaseLeases", {});
  assert.ok(!list.leases.some((l: Msg) => Number(l.ID) === id));
});

test("lease grant rules and errors are etcd's", { timeout: 30_000 }, async () => {
  const chosen = await followerClient.call("Lease", "LeaseGrant", { TTL: 30, ID: 777 });
  assert.equal(Number(chosen.ID), 777);
  await assert.rejects(followerClient.call("Lease", "LeaseGrant", { TTL: 30, ID: 777 }), {
    details: "etcdserver: lease already exists",
  });
  await assert.rejects(followerClient.call("Lease", "LeaseGrant", { TTL: "9000000001" }), {
    details: "etcdserver: too large lease TTL",
  });
  await assert.rejects(followerClient.call("Lease", "LeaseRevoke", { ID: 4242 }), {
    details: "etcdserver: requested lease not found",
  });
  await followerClient.call("Lease", "LeaseRevoke", { ID: 777 });
});

test("a lease that is not kept alive expires and takes its keys", { timeout: 30_000 }, async () => {
  const id = await grant(2);
  await followerClient.call("KV", "Put", { key: B("l/short"), value: B("x"), lease: id });
  await eventually(async () => assert.deepEqual(await get("l/short"), []), 15_000);
});

test("a lock is held by one client at a time", { timeout: 30_000 }, async () => {
  const [a, b] = [await grant(60), await grant(60)];
  const first = await leaderClient.call("Lock", "Lock", { name: B("m"), lease: a });
  assert.equal(String(first.key), `m/${a.toString(16)}`);
  const second = followerClient.call("Lock", "Lock", { name: B("m"), lease: b });
  assert.equal(await settlesWithin(second, 500), false, "the second waits");
  await leaderClient.call("Lock", "Unlock", { key: first.key });
  assert.equal(String((await second).key), `m/${b.toString(16)}`);
  await followerClient.call("Lock", "Unlock", { key: (await second).key });
});

test("a lock whose lease expires is released", { timeout: 30_000 }, async () => {
  const [short, long] = [await grant(2), await grant(60)];
  await leaderClient.call("Lock", "Lock", { name: B("x"), lease: short });
  const started = Date.now();
  const waiting = await followerClient.call("Lock", "Lock", { name: B("x"), lease: long });
  assert.ok(Date.now() - started > 500, "it waited for the expiry");
  assert.equal(String(waiting.key), `x/${long.toString(16)}`);
});

test("campaign, leader, proclaim, observe, resign", { timeout: 30_000 }, async () => {
  const [a, b] = [await grant(60), await grant(60)];
  const won = await leaderClient.call("Election", "Campaign", {
    name: B("e"),
    lease: a,
    value: B("a"),
  });
  const observed: string[] = [];
  const observe = followerClient.raw("Election").Observe({ name: B("e") });
  observe.on("data", (r: Msg) => observed.push(String(r.kv.value)));
  observe.on("error", () => {});
  const second = followerClient.call("Election", "Campaign", {
    name: B("e"),
    lease: b,
    value: B("b"),
  });
  assert.equal(await settlesWithin(second, 500), false, "the second campaigner waits");
  const leader = await followerClient.call("Election", "Leader", { name: B("e") });
  assert.equal(String(leader.kv.value), "a");
  await leaderClient.call("Election", "Proclaim", { leader: won.leader, value: B("a2") });
  await leaderClient.call("Election", "Resign", { leader: won.leader });
  const next = await second;
  assert.equal(String(next.leader.key), `e/${b.toString(16)}`);
  await eventually(async () => assert.deepEqual(observed, ["a", "a2", "b"]));
  await assert.rejects(
    leaderClient.call("Election", "Proclaim", { leader: won.leader, value: B("late") }),
    { details: "election: not leader" },
  );
  await assert.rejects(followerClient.call("Election", "Leader", { name: B("nobody") }), {
    details: "election: no leader",
  });
  observe.cancel();
});

test("etcdctl lease, lock and elect", { timeout: 60_000 }, async () => {
  const granted = await etcdctl(["lease", "grant", "60"]);
  const hex = /lease ([0-9a-f]+) granted with TTL\(60s\)/.exec(granted)?.[1];
  assert.ok(hex, granted);
  await etcdctl(["put", "--lease", hex, "ek", "v"]);
  assert.match(await etcdctl(["lease", "keep-alive", "--once", hex]), /keepalived with TTL\(60\)/);
  const live = await etcdctl(["lease", "timetolive", "--keys", hex]);
  assert.match(live, /granted with TTL\(60s\), remaining\(\d+s\), attached keys\(\[ek\]\)/);
  assert.match(await etcdctl(["lease", "revoke", hex]), /revoked/);
  assert.equal(await etcdctl(["get", "ek"]), "");

  const locked = await etcdctl(["lock", "ctl-lock", "echo", "held"]);
  assert.equal(locked.trim(), "held");

  const campaigner = execFile("etcdctl", [`--endpoints=${followerUrl}`, "elect", "ctl-e", "p1"]);
  try {
    await eventually(async () => {
      const leader = await followerClient.call("Election", "Leader", { name: B("ctl-e") });
      assert.equal(String(leader.kv.value), "p1");
    });
    // `elect -l` observes until stopped: give it two seconds.
    const observed = await run("etcdctl", [`--endpoints=${followerUrl}`, "elect", "-l", "ctl-e"], {
      timeout: 2_000,
    }).then(
      (done) => done.stdout,
      (error: { stdout?: string }) => String(error.stdout),
    );
    assert.match(observed, /^ctl-e\/[0-9a-f]+\np1\n/);
  } finally {
    campaigner.kill("SIGINT");
  }
});
