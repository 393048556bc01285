// Runs one phase against one cluster with the worker pool and gathers what it cost: client-side
// latencies and throughput, watch delivery, each member's CPU and memory from /proc, and the load
// generator's own CPU.
import { sleep } from "../../test/process/harness.ts";
import type { BenchCluster, System } from "./clusters.ts";
import { KEYSPACE, MEMORY_KEYS, type Phase, VALUE_BYTES } from "./phases.ts";
import { share, type WorkerPool } from "./pool.ts";
import { cpuMs, type Latency, latencyOf, type Memory, machineBusyMs, memoryOf } from "./stats.ts";
import type { WorkSpec } from "./work.ts";

export interface MemberCost {
  readonly name: string;
  readonly leader: boolean;
  readonly cpuMs: number;
  readonly before: Memory;
  readonly after: Memory;
}

export interface Outcome {
  readonly phase: Phase;
  readonly system: System;
  readonly seconds: number;
  readonly ops: number;
  readonly errors: number;
  readonly firstError: string | null;
  readonly latency: Latency;
  readonly watch: (Latency & { readonly events: number; readonly expected: number }) | null;
  readonly members: readonly MemberCost[];
  readonly clientCpuMs: number;
  /** CPU used meanwhile by processes outside the benchmark (other work on a shared machine). */
  readonly othersCpuMs: number;
}

// Time for every worker to connect (and open its watch) before the common start.
const START_DELAY_MS = 1_000;

export async function measure(
  pool: WorkerPool,
  cluster: BenchCluster,
  phase: Phase,
  seconds: number,
): Promise<Outcome> {
  const leader = await cluster.leader();
  const endpoints = cluster.members.map((member) => member.endpoint);
  const startAt = Date.now() + START_DELAY_MS;
  const base: Omit<WorkSpec, "loops"> = {
    kind: phase.kind,
    endpoints,
    startAt,
    seconds,
    prefix: phase.prefix,
    keyspace: KEYSPACE,
    valueBytes: VALUE_BYTES,
    stamped: phase.watch === true,
  };
  const before = cluster.members.map((member) => ({
    cpu: cpuMs(member.pid),
    memory: memoryOf(member.pid),
  }));
  const machineBefore = machineBusyMs();
  const started = performance.now();
  const results = await pool.run((worker) => {
    const loops = share(phase.concurrency, pool.size, worker);
    if (phase.kind === "load") {
      const from = Math.round((MEMORY_KEYS * worker) / pool.size);
      const to = Math.round((MEMORY_KEYS * (worker + 1)) / pool.size);
      return { ...base, loops, load: { from, to, batch: 100 } };
    }
    if (phase.watch === true)
      return { ...base, loops, watchEndpoint: endpoints[worker % endpoints.length]! };
    return loops === 0 ? null : { ...base, loops };
  });
  const machineMs = machineBusyMs() - machineBefore;
  const elapsed =
    phase.kind === "load" ? (performance.now() - started - START_DELAY_MS) / 1000 : seconds;
  // Memory after a bulk load: give the members a moment to finish applying and settle.
  if (phase.kind === "load") await sleep(2_000);
  const members = cluster.members.map((member, i) => ({
    name: member.name,
    leader: member.name === leader,
    cpuMs: cpuMs(member.pid) - before[i]!.cpu,
    before: before[i]!.memory,
    after: memoryOf(member.pid),
  }));
  const clientCpuMs = results.reduce((sum, r) => sum + r.cpuMs, 0);
  const ops = results.reduce((sum, r) => sum + r.ops, 0);
  const watchSamples = results.flatMap((r) => r.watchLatenciesUs);
  const watchers = results.length;
  return {
    phase,
    system: cluster.system,
    seconds: elapsed,
    ops,
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    firstError: results.find((r) => r.firstError !== null)?.firstError ?? null,
    latency: latencyOf(results.flatMap((r) => r.latenciesUs)),
    watch:
      phase.watch === true
        ? { ...latencyOf(watchSamples), events: watchSamples.length, expected: ops * watchers }
        : null,
    members,
    clientCpuMs,
    othersCpuMs: machineMs - clientCpuMs - members.reduce((sum, m) => sum + m.cpuMs, 0),
  };
}
