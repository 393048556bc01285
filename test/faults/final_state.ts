// The end of a run: heal every fault, restart what was killed, wait until every member has
// applied the same index, then read the final state from each.
import type { KvOperation } from "../../src/check/index.ts";
import { prefixEnd } from "../../src/kv/index.ts";
import type { FinalState } from "./checks.ts";
import { type FaultCluster, sleep } from "./cluster.ts";
import type { DiskFiller } from "./disk.ts";
import { KEY_PREFIX } from "./worker_protocol.ts";

export async function healEverything(
  cluster: FaultCluster,
  disk: DiskFiller | null,
  log: (line: string) => void,
): Promise<void> {
  await cluster.network.heal();
  await disk?.free();
  for (const name of cluster.members) {
    if (cluster.isPaused(name)) cluster.resume(name);
    if (!cluster.running().includes(name)) {
      log(`restarting ${name} for the final checks`);
      await cluster.restart(name);
    }
  }
}

/** Waits until every member has applied the same index; returns the final revision. */
export async function converge(cluster: FaultCluster): Promise<number> {
  const deadline = Date.now() + 60_000;
  let last = "";
  let lastProblem = "";
  while (Date.now() < deadline) {
    await cluster.waitForLeader(Math.max(1, deadline - Date.now()));
    try {
      const statuses = await Promise.all(cluster.members.map((name) => cluster.status(name)));
      const alarms = statuses.flatMap((s) => s.alarms);
      const positions = statuses.map((s) => `${s.appliedIndex}/${s.revision}`);
      const agreed = new Set(positions).size === 1;
      // Agreement twice in a row: nothing was still in flight between the two looks.
      if (agreed && positions[0] === last && alarms.length === 0) return statuses[0]!.revision;
      last = agreed ? positions[0]! : "";
      lastProblem =
        alarms.length > 0
          ? `alarms still raised: ${alarms.join(", ")}`
          : `applied/revision per member: ${positions.join(" ")}`;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    await sleep(500);
  }
  throw new Error(`members did not converge within 60 s after healing (${lastProblem})`);
}

export interface FinalReads {
  /** The leader's linearizable read of every key, as history operations. */
  readonly reads: KvOperation[];
  readonly states: Map<string, FinalState>;
  readonly hashes: Map<string, string>;
  readonly via: string;
}

export async function finalReads(cluster: FaultCluster, keyCount: number): Promise<FinalReads> {
  const prefix = Buffer.from(KEY_PREFIX);
  const range = { key: prefix, range_end: prefixEnd(prefix) };
  const via = await cluster.waitForLeader();
  const call = Number(process.hrtime.bigint());
  const linearizable = await cluster.client(via, "read").call("KV", "Range", range);
  const returned = Number(process.hrtime.bigint());
  const viaState = toState(linearizable.kvs);
  const reads: KvOperation[] = Array.from({ length: keyCount }, (_, i) => ({
    client: 0,
    op: "get",
    key: `k${i}`,
    value: null,
    expect: null,
    ok: null,
    output: viaState.get(`k${i}`) ?? null,
    call,
    return: returned,
  }));
  const states = new Map<string, FinalState>();
  for (const name of cluster.members) {
    const local = await cluster
      .client(name, "read")
      .call("KV", "Range", { ...range, serializable: true });
    states.set(name, toState(local.kvs));
  }
  states.set(`${via} (linearizable)`, viaState);
  return { reads, states, hashes: await stateHashes(cluster), via: `${via} (linearizable)` };
}

/**
 * Every member's state hash at one applied index. The hash covers the applied index, and an entry
 * that changes no key (a new leader's empty entry, a member's attributes) can land between two
 * members' answers: a 3,600 s soak saw three "different" hashes at one revision that way, after
 * reading ~100k keys per member had kept the leader busy. So the hashes count only when every
 * member reports the same applied index just before and just after them.
 */
async function stateHashes(cluster: FaultCluster): Promise<Map<string, string>> {
  const applied = async () =>
    (await Promise.all(cluster.members.map((name) => cluster.status(name)))).map(
      (s) => s.appliedIndex,
    );
  let positions = "";
  for (let attempt = 0; attempt < 20; attempt++) {
    const before = await applied();
    const replies = await Promise.all(
      cluster.members.map((name) =>
        cluster.client(name, "read").call("Maintenance", "HashKV", { revision: "0" }),
      ),
    );
    const after = await applied();
    positions = [...before, ...after].join(" ");
    if (new Set([...before, ...after]).size === 1) {
      return new Map(
        cluster.members.map((name, i) => [
          name,
          `${replies[i].hash}@${replies[i].hash_revision}/applied ${before[0]}`,
        ]),
      );
    }
    await sleep(500);
  }
  throw new Error(`members never held one applied index long enough to hash (${positions})`);
}

export function toState(kvs: readonly { key: Buffer; value: Buffer }[]): Map<string, string> {
  return new Map(
    kvs.map((kv) => [
      Buffer.from(kv.key).toString().slice(KEY_PREFIX.length),
      Buffer.from(kv.value).toString(),
    ]),
  );
}
