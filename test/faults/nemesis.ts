// The faults a run injects. Each nemesis starts one fault and returns how to heal it; the
// schedule (run.ts) alternates quiet periods and faults, choosing from a seed.
import type { SeededRandom } from "../../src/raft/index.ts";
import { pick, shuffled } from "../../src/sim/random_helpers.ts";
import { type FaultCluster, sleep } from "./cluster.ts";
import type { DiskFiller } from "./disk.ts";

export const NEMESES = [
  "kill",
  "kill-leader",
  "pause-leader",
  "pause-isolated-leader",
  "partition-leader",
  "partition-halves",
  "partition-oneway",
  "partition-bridge",
  "latency",
  "clock-skew",
  "membership",
  "disk-full",
] as const;

export type NemesisName = (typeof NEMESES)[number];

export interface NemesisContext {
  readonly cluster: FaultCluster;
  readonly random: SeededRandom;
  /** Names not yet used, for the membership nemesis. */
  readonly spares: string[];
  /** Members at the start; the membership nemesis adds one above it, then removes one. */
  readonly initialSize: number;
  /** The member whose data lives on a small tmpfs (disk-full runs). */
  readonly disk: DiskFiller | null;
  /** The member started with a skewed clock (clock-skew runs). */
  readonly skewed: string | null;
  readonly log: (line: string) => void;
}

export interface Fault {
  readonly description: string;
  heal(): Promise<void>;
}

const HEALED: Fault = { description: "nothing to do", heal: async () => {} };

/** Running members that are not paused, the ones a fault can act on. */
function live(ctx: NemesisContext): string[] {
  return ctx.cluster.running().filter((name) => !ctx.cluster.isPaused(name));
}

async function leaderOrAny(ctx: NemesisContext): Promise<string | undefined> {
  return (
    (await ctx.cluster.leader()) ?? (live(ctx).length > 0 ? pick(ctx.random, live(ctx)) : undefined)
  );
}

async function killMember(ctx: NemesisContext, victim: string | undefined): Promise<Fault> {
  if (victim === undefined) return HEALED;
  await ctx.cluster.kill9(victim);
  return {
    description: `kill -9 ${victim}`,
    heal: async () => {
      if (ctx.cluster.members.includes(victim)) await ctx.cluster.restart(victim);
    },
  };
}

/** Cuts every link between the groups, both ways. */
async function partition(
  ctx: NemesisContext,
  groups: readonly (readonly string[])[],
  label: string,
): Promise<Fault> {
  const { network } = ctx.cluster;
  for (const [i, group] of groups.entries()) {
    for (const [j, other] of groups.entries()) {
      if (i === j) continue;
      for (const from of group) for (const to of other) await network.cut(from, to);
    }
  }
  return {
    description: `${label}: ${groups.map((group) => group.join(",")).join(" | ")}`,
    heal: () => network.heal(),
  };
}

function members(ctx: NemesisContext): string[] {
  return ctx.cluster.members.filter((name) => ctx.cluster.running().includes(name));
}

export const START: Readonly<Record<NemesisName, (ctx: NemesisContext) => Promise<Fault>>> = {
  kill: (ctx) => killMember(ctx, live(ctx).length > 0 ? pick(ctx.random, live(ctx)) : undefined),
  "kill-leader": async (ctx) => killMember(ctx, await leaderOrAny(ctx)),

  "pause-leader": async (ctx) => {
    const victim = await leaderOrAny(ctx);
    if (victim === undefined) return HEALED;
    ctx.cluster.pause(victim);
    return { description: `SIGSTOP ${victim}`, heal: async () => ctx.cluster.resume(victim) };
  },

  "pause-isolated-leader": async (ctx) => {
    // A long pause (GC, a stalled VM) of a leader that is also cut off: it wakes up still
    // believing it leads, while the others elected someone else and went on writing. The
    // moment a leader that trusts its lease serves stale reads (Jepsen's etcd finding).
    const leader = await leaderOrAny(ctx);
    if (leader === undefined) return HEALED;
    const cut = await partition(
      ctx,
      [[leader], members(ctx).filter((n) => n !== leader)],
      "isolated",
    );
    ctx.cluster.pause(leader);
    const wake = setTimeout(() => ctx.cluster.resume(leader), 2_500);
    return {
      description: `SIGSTOP ${leader} for 2.5 s while ${cut.description}`,
      heal: async () => {
        clearTimeout(wake);
        ctx.cluster.resume(leader);
        await cut.heal();
      },
    };
  },

  "partition-leader": async (ctx) => {
    const leader = await leaderOrAny(ctx);
    if (leader === undefined) return HEALED;
    return partition(ctx, [[leader], members(ctx).filter((n) => n !== leader)], "leader isolated");
  },

  "partition-halves": (ctx) => {
    const all = shuffled(ctx.random, members(ctx));
    const minority = all.slice(0, Math.floor((all.length - 1) / 2) || 1);
    return partition(
      ctx,
      [minority, all.filter((n) => !minority.includes(n))],
      "majority/minority",
    );
  },

  "partition-oneway": async (ctx) => {
    const victim = await leaderOrAny(ctx);
    if (victim === undefined) return HEALED;
    const others = members(ctx).filter((n) => n !== victim);
    const deaf = ctx.random.nextFloat() < 0.5;
    for (const other of others) {
      if (deaf) await ctx.cluster.network.cut(other, victim);
      else await ctx.cluster.network.cut(victim, other);
    }
    return {
      description: deaf ? `${victim} hears nobody (one way)` : `nobody hears ${victim} (one way)`,
      heal: () => ctx.cluster.network.heal(),
    };
  },

  "partition-bridge": async (ctx) => {
    // Two sides that cannot talk, and one member (the bridge) that talks to both.
    const all = shuffled(ctx.random, members(ctx));
    const bridge = all.pop()!;
    const half = Math.floor(all.length / 2);
    const left = all.slice(0, half);
    const right = all.slice(half);
    const fault = await partition(ctx, [left, right], `bridge ${bridge}`);
    return fault;
  },

  latency: async (ctx) => {
    const { network } = ctx.cluster;
    // netem (delay) is a kernel module some kernels lack; dropped packets need only nftables,
    // and the proxy cannot drop bytes inside a stream, so each mode degrades what it can.
    const delayMs = network.supportsDelay ? 20 + ctx.random.nextInt(80) : 0;
    const lossPercent = network.mode === "netns" ? 5 + ctx.random.nextInt(25) : 0;
    await network.degrade({ delayMs, lossPercent });
    return {
      description: `links degraded: ${delayMs} ms delay, ${lossPercent}% loss`,
      heal: () => network.heal(),
    };
  },

  "clock-skew": async (ctx) => {
    // The skewed member runs for the whole run; each fault kills whoever leads instead of it,
    // so leadership keeps landing on the member whose clock is wrong.
    // Once it leads, it is paused and cut off: a leader whose clock is wrong is the one that
    // would misjudge its lease on waking.
    const leader = await ctx.cluster.leader();
    if (leader === undefined) return HEALED;
    if (leader === ctx.skewed) return START["pause-isolated-leader"](ctx);
    return killMember(ctx, leader);
  },

  membership: async (ctx) => {
    const { cluster } = ctx;
    const via = await cluster.leader();
    if (via === undefined) return HEALED;
    const spare = ctx.spares[0];
    if (spare !== undefined && cluster.members.length <= ctx.initialSize) {
      ctx.spares.shift();
      await cluster.addLearner(spare, via);
      ctx.log(`added ${spare} as a learner`);
      await promoteWhenReady(ctx, spare);
      return { description: `added and promoted ${spare}`, heal: async () => {} };
    }
    if (cluster.members.length <= ctx.initialSize) return HEALED;
    const victim = pick(ctx.random, cluster.members);
    await cluster.remove(victim, via);
    return { description: `removed ${victim}`, heal: async () => {} };
  },

  "disk-full": async (ctx) => {
    const disk = ctx.disk;
    if (disk === null) return HEALED;
    await disk.fill();
    return { description: `${disk.member}'s disk full`, heal: () => disk.free() };
  },
};

async function promoteWhenReady(ctx: NemesisContext, name: string): Promise<void> {
  // A learner is promoted only once it has caught up (etcd's rule): retry for a while.
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const via = (await ctx.cluster.leader()) ?? name;
      await ctx.cluster.promote(name, via);
      ctx.log(`promoted ${name}`);
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        ctx.log(`${name} stays a learner: ${(error as Error).message}`);
        return;
      }
      await sleep(300);
    }
  }
}
