// The `etcd3` npm client, which no one here wrote, against a real etcd 3.4 and against qmesh: the
// same scenarios, the same observations. Each scenario returns what a user would see; the test
// asserts it is right on etcd and that qmesh shows the same.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Etcd3, EtcdLockFailedError, type IKeyValue } from "etcd3";
import { eventually, sleep } from "../process/harness.ts";
import { type SystemUnderTest, startEtcd, startQmesh } from "./systems.ts";

type Scenario = (hosts: string[]) => Promise<unknown>;

function withClient<T>(hosts: string[], work: (client: Etcd3) => Promise<T>): Promise<T> {
  const client = new Etcd3({ hosts, dialTimeout: 3_000 });
  return work(client).finally(() => client.close());
}

const kvBasics: Scenario = (hosts) =>
  withClient(hosts, async (client) => {
    await client.put("kv/a").value("1");
    await client.put("kv/b").value("2");
    await client.put("kv/c").value("3");
    await client.put("kw").value("outside");
    const one = await client.get("kv/a").string();
    const all = await client.getAll().prefix("kv/").strings();
    const keys = await client.getAll().prefix("kv/").keys();
    const count = await client.getAll().prefix("kv/").count();
    const deleted = await client.delete().key("kv/b").exec();
    const deletedPrefix = await client.delete().prefix("kv/").exec();
    const after = await client.getAll().prefix("kv/").strings();
    const missing = await client.get("kv/a").string();
    return {
      one,
      all,
      keys,
      count,
      deleted: deleted.deleted,
      deletedPrefix: deletedPrefix.deleted,
      after,
      missing,
    };
  });

const watchEvents: Scenario = (hosts) =>
  withClient(hosts, async (client) => {
    const events: string[] = [];
    const watcher = await client.watch().prefix("watch/").withPreviousKV().create();
    const record = (kind: string) => (kv: IKeyValue, previous?: IKeyValue) =>
      events.push(`${kind} ${kv.key.toString()}=${kv.value.toString()} prev=${previous?.value}`);
    watcher.on("put", record("put"));
    watcher.on("delete", record("delete"));
    await client.put("watch/a").value("1");
    await client.put("watch/a").value("2");
    await client.put("other").value("x");
    await client.delete().key("watch/a");
    await eventually(async () => assert.equal(events.length, 3, events.join("; ")), 5_000);
    await watcher.cancel();
    return events;
  });

const leaseKeepAlive: Scenario = (hosts) =>
  withClient(hosts, async (client) => {
    const lease = client.lease(2);
    let renewals = 0;
    lease.on("keepaliveSucceeded", () => renewals++);
    await lease.put("lease/key").value("held");
    // Held past its TTL by the automatic keepalive.
    await sleep(3_000);
    const heldAfterTtl = await client.get("lease/key").string();
    await lease.revoke();
    const afterRevoke = await client.get("lease/key").string();
    return { heldAfterTtl, renewed: renewals > 0, afterRevoke };
  });

const lockMutualExclusion: Scenario = (hosts) =>
  Promise.all([1, 2].map(() => new Etcd3({ hosts, dialTimeout: 3_000 }))).then(async (clients) => {
    try {
      let inside = 0;
      let overlaps = 0;
      const order: number[] = [];
      await Promise.all(
        clients.flatMap((client, c) =>
          [0, 1, 2].map(() =>
            untilAcquired(() =>
              client
                .lock("lock/x")
                .ttl(5)
                .do(async () => {
                  inside++;
                  if (inside > 1) overlaps++;
                  await sleep(50);
                  order.push(c);
                  inside--;
                }),
            ),
          ),
        ),
      );
      return { overlaps, entered: order.length };
    } finally {
      for (const client of clients) client.close();
    }
  });

/** etcd3's lock is a try-lock: it fails at once while another holder has it. */
async function untilAcquired(attempt: () => Promise<void>): Promise<void> {
  for (let tries = 0; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof EtcdLockFailedError) || tries > 200) throw error;
      await sleep(20);
    }
  }
}

const electionFlow: Scenario = (hosts) =>
  Promise.all([1, 2].map(() => new Etcd3({ hosts, dialTimeout: 3_000 }))).then(async (clients) => {
    try {
      const [a, b] = clients as [Etcd3, Etcd3];
      const observer = await a.election("election/e", 5).observe();
      const seen: (string | undefined)[] = [];
      observer.on("change", (leader) => seen.push(leader));
      const first = a.election("election/e", 5).campaign("alice");
      await first.wait();
      const second = b.election("election/e", 5).campaign("bob");
      let secondElected = false;
      second.on("elected", () => (secondElected = true));
      await sleep(500);
      const bobWaitedWhileAliceLed = !secondElected;
      const leaderWhileAlice = await b.election("election/e").leader();
      await first.resign();
      await second.wait();
      const leaderAfterResign = await a.election("election/e").leader();
      await eventually(async () => assert.deepEqual(seen.at(-1), "bob"), 5_000);
      const lastSeen = seen.at(-1);
      await second.resign();
      await observer.cancel();
      return { bobWaitedWhileAliceLed, leaderWhileAlice, leaderAfterResign, lastSeen };
    } finally {
      for (const client of clients) client.close();
    }
  });

const stmCounter: Scenario = (hosts) =>
  Promise.all([1, 2, 3].map(() => new Etcd3({ hosts, dialTimeout: 3_000 }))).then(
    async (clients) => {
      try {
        await clients[0]!.put("stm/counter").value("0");
        const perClient = 4;
        let committed = 0;
        await Promise.all(
          clients.map(async (client) => {
            for (let i = 0; i < perClient; i++) {
              await client.stm({ retries: 100 }).transact(async (tx) => {
                const value = Number(await tx.get("stm/counter").string());
                await tx.put("stm/counter").value(String(value + 1));
              });
              committed++;
            }
          }),
        );
        const final = await clients[0]!.get("stm/counter").string();
        return { committed, final };
      } finally {
        for (const client of clients) client.close();
      }
    },
  );

describe("etcd3 npm client: qmesh behaves as etcd 3.4", { timeout: 120_000 }, () => {
  const systems: SystemUnderTest[] = [];
  let etcd: SystemUnderTest;
  let qmesh: SystemUnderTest;
  before(async () => {
    [etcd, qmesh] = await Promise.all([startEtcd(), startQmesh()]);
    systems.push(etcd, qmesh);
  });
  after(() => Promise.all(systems.map((system) => system.destroy())));

  const same = (name: string, scenario: Scenario, expected: unknown) =>
    it(name, async () => {
      const reference = await scenario(etcd.endpoints);
      assert.deepStrictEqual(reference, expected, "etcd itself did not behave as the test expects");
      const actual = await scenario(qmesh.endpoints);
      assert.deepStrictEqual(actual, reference);
    });

  same("put, get, getAll with a prefix, delete", kvBasics, {
    one: "1",
    all: { "kv/a": "1", "kv/b": "2", "kv/c": "3" },
    keys: ["kv/a", "kv/b", "kv/c"],
    count: 3,
    deleted: "1",
    deletedPrefix: "2",
    after: {},
    missing: null,
  });
  same("watch builder streams puts and deletes with previous values", watchEvents, [
    "put watch/a=1 prev=undefined",
    "put watch/a=2 prev=1",
    "delete watch/a= prev=2",
  ]);
  same("lease with keepalive holds its key past the TTL; revoke deletes it", leaseKeepAlive, {
    heldAfterTtl: "held",
    renewed: true,
    afterRevoke: null,
  });
  same("lock helper: mutual exclusion between two clients", lockMutualExclusion, {
    overlaps: 0,
    entered: 6,
  });
  same("election helper: campaign, observe, resign", electionFlow, {
    bobWaitedWhileAliceLed: true,
    leaderWhileAlice: "alice",
    leaderAfterResign: "bob",
    lastSeen: "bob",
  });
  same("STM: concurrent conflicting transactions increment a counter exactly", stmCounter, {
    committed: 12,
    final: "12",
  });
});
