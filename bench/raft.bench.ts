// npm run bench:raft — the Raft core alone: 3 members in one process, no I/O, 100-byte
// entries proposed in batches. Reports entries committed per CPU-second and bytes allocated
// per entry, for several batch sizes and in-flight windows. Target: >= 500,000 entries/CPU-s.
import { parseArgs } from "node:util";
import v8 from "node:v8";
import {
  decodeConfChange,
  EntryType,
  MemoryStorage,
  type Message,
  type RaftConfig,
  RawNode,
  SeededRandom,
} from "../src/raft/index.ts";

interface BenchResult {
  readonly batchEntries: number;
  readonly maxInflightMessages: number;
  readonly maxMessageBytes: number;
  readonly entries: number;
  readonly cpuSeconds: number;
  readonly entriesPerCpuSecond: number;
  readonly bytesAllocatedPerEntry: number;
}

const ENTRY_BYTES = 100;
const VOTERS = [1, 2, 3];

class Cluster {
  readonly members = new Map<number, { node: RawNode; storage: MemoryStorage }>();
  private inbox: Message[] = [];
  appliedOnLeader = 0;

  constructor(overrides: Partial<RaftConfig>) {
    for (const id of VOTERS) {
      const storage = new MemoryStorage({ voters: VOTERS });
      const node = new RawNode({ id, storage, random: new SeededRandom(id), ...overrides });
      this.members.set(id, { node, storage });
    }
  }

  get leader(): RawNode {
    return this.members.get(1)!.node;
  }

  /**
   * One round of virtual time with a network that takes `delayRounds` to deliver: run every
   * member's Ready loop once, then deliver the messages whose time has come.
   */
  round(delayRounds: number, now: number): void {
    for (const [id, member] of this.members) {
      if (member.node.hasReady()) this.handleReady(id, member);
    }
    for (const message of this.inbox) this.inFlight.push({ at: now + delayRounds, message });
    this.inbox = [];
    let kept = 0;
    for (const item of this.inFlight) {
      if (item.at <= now) this.members.get(item.message.to)?.node.step(item.message);
      else this.inFlight[kept++] = item;
    }
    this.inFlight.length = kept;
  }

  private readonly inFlight: { at: number; message: Message }[] = [];

  /** Runs every member's Ready loop and delivers messages until the cluster is quiet. */
  settle(): void {
    for (let rounds = 0; rounds < 100_000; rounds++) {
      let busy = false;
      for (const [id, member] of this.members) {
        if (!member.node.hasReady()) continue;
        busy = true;
        this.handleReady(id, member);
      }
      if (this.inbox.length > 0) {
        busy = true;
        const delivering = this.inbox;
        this.inbox = [];
        for (const message of delivering) this.members.get(message.to)?.node.step(message);
      }
      if (!busy) return;
    }
    throw new Error("cluster did not settle");
  }

  private handleReady(id: number, member: { node: RawNode; storage: MemoryStorage }): void {
    const ready = member.node.ready();
    for (const message of ready.messages) this.inbox.push(message);
    if (ready.entries.length > 0) member.storage.append(ready.entries);
    if (ready.hardState !== null) member.storage.setHardState(ready.hardState);
    for (const message of ready.messagesAfterPersist) this.inbox.push(message);
    for (const entry of ready.committedEntries) {
      if (entry.type === EntryType.ConfChange)
        member.node.applyConfChange(decodeConfChange(entry.data));
      else if (id === 1) this.appliedOnLeader++;
    }
    member.node.advance();
  }
}

function run(
  batchEntries: number,
  totalEntries: number,
  overrides: Partial<RaftConfig>,
): BenchResult {
  const cluster = new Cluster(overrides);
  cluster.settle(); // apply the bootstrap membership entries
  cluster.leader.campaign();
  cluster.settle();
  const payloads: Uint8Array[] = [];
  for (let i = 0; i < batchEntries; i++) payloads.push(new Uint8Array(ENTRY_BYTES).fill(i & 0xff));
  const appliedBefore = cluster.appliedOnLeader;
  global.gc?.();
  const profiler = new v8.GCProfiler();
  profiler.start();
  const heapBefore = v8.getHeapStatistics().used_heap_size;
  const cpuBefore = process.cpuUsage();
  let proposed = 0;
  while (proposed < totalEntries) {
    cluster.leader.proposeBatch(payloads);
    proposed += batchEntries;
    cluster.settle();
  }
  const cpu = process.cpuUsage(cpuBefore);
  const heapAfter = v8.getHeapStatistics().used_heap_size;
  const profile = profiler.stop();
  const committed = cluster.appliedOnLeader - appliedBefore;
  if (committed !== proposed) throw new Error(`committed ${committed} of ${proposed} proposed`);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    batchEntries,
    maxInflightMessages: overrides.maxInflightMessages ?? 256,
    maxMessageBytes: overrides.maxMessageBytes ?? 1024 * 1024,
    entries: committed,
    cpuSeconds,
    entriesPerCpuSecond: committed / cpuSeconds,
    bytesAllocatedPerEntry: allocatedBytes(heapBefore, heapAfter, profile) / committed,
  };
}

/** Bytes allocated = growth between GCs plus what remains at the end (from GC statistics). */
function allocatedBytes(
  heapBefore: number,
  heapAfter: number,
  profile: ReturnType<v8.GCProfiler["stop"]>,
): number {
  let allocated = 0;
  let previousAfterGc = heapBefore;
  for (const gc of profile?.statistics ?? []) {
    allocated += gc.beforeGC.heapStatistics.usedHeapSize - previousAfterGc;
    previousAfterGc = gc.afterGC.heapStatistics.usedHeapSize;
  }
  return allocated + (heapAfter - previousAfterGc);
}

/**
 * Pipelining under latency: each round the leader proposes one batch; messages take
 * `delayRounds` each way. With a window of W messages a follower acknowledges at most W batches
 * per round trip, so throughput needs W >= 2 x delayRounds (plus room for fsync stalls).
 */
function runWithLatency(maxInflightMessages: number, delayRounds: number, rounds: number): number {
  const cluster = new Cluster({ maxInflightMessages, maxMessageBytes: 8 * 1024 });
  cluster.settle();
  cluster.leader.campaign();
  cluster.settle();
  const payloads: Uint8Array[] = [];
  for (let i = 0; i < 64; i++) payloads.push(new Uint8Array(ENTRY_BYTES));
  const before = cluster.appliedOnLeader;
  for (let now = 0; now < rounds; now++) {
    try {
      cluster.leader.proposeBatch(payloads);
    } catch {
      // over maxUncommittedEntriesBytes: the leader pushes back, as it should
    }
    cluster.round(delayRounds, now);
  }
  return (cluster.appliedOnLeader - before) / rounds;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      entries: { type: "string", default: "400000" },
      json: { type: "boolean", default: false },
    },
  });
  const totalEntries = Number(values.entries);
  if (!Number.isInteger(totalEntries) || totalEntries <= 0) {
    process.stderr.write(`--entries must be a positive integer, got "${values.entries}"\n`);
    process.exit(2);
  }
  run(64, 20_000, {}); // warm up the JIT
  const results: BenchResult[] = [];
  for (const batchEntries of [1, 16, 64, 256, 1024]) {
    const entries = batchEntries === 1 ? Math.min(totalEntries, 50_000) : totalEntries;
    results.push(run(batchEntries, entries, {}));
  }
  for (const maxInflightMessages of [1, 4, 256]) {
    for (const maxMessageBytes of [16 * 1024, 1024 * 1024]) {
      results.push(run(256, totalEntries, { maxInflightMessages, maxMessageBytes }));
    }
  }
  const latency: { maxInflightMessages: number; delayRounds: number; entriesPerRound: number }[] =
    [];
  for (const delayRounds of [2, 10, 50]) {
    for (const maxInflightMessages of [1, 4, 16, 64, 256]) {
      const entriesPerRound = runWithLatency(maxInflightMessages, delayRounds, 2_000);
      latency.push({ maxInflightMessages, delayRounds, entriesPerRound });
    }
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ results, latency }, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    "batch  inflight  msg-bytes  entries   cpu-s   entries/cpu-s  bytes-alloc/entry\n",
  );
  for (const r of results) {
    process.stdout.write(
      `${String(r.batchEntries).padStart(5)}  ${String(r.maxInflightMessages).padStart(8)}  ${String(r.maxMessageBytes).padStart(9)}  ${String(r.entries).padStart(7)}  ${r.cpuSeconds.toFixed(2).padStart(6)}  ${Math.round(r.entriesPerCpuSecond).toLocaleString("en-US").padStart(13)}  ${r.bytesAllocatedPerEntry.toFixed(0).padStart(17)}\n`,
    );
  }
  process.stdout.write(
    "\npipelining under latency (64 x 100 B proposed per round, 8 KiB messages; one-way delay in rounds)\n",
  );
  process.stdout.write("delay  inflight  committed entries/round (max 64)\n");
  for (const l of latency) {
    process.stdout.write(
      `${String(l.delayRounds).padStart(5)}  ${String(l.maxInflightMessages).padStart(8)}  ${l.entriesPerRound.toFixed(1).padStart(8)}\n`,
    );
  }
}

main();
