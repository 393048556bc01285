// `qmesh demo`: three real Raft cores in the simulator, narrated — an election, client writes,
// the leader crashing, a new election, the old leader coming back and catching up, and the
// checks at the end.
import { SimCluster } from "./cluster.ts";
import { checkLinearizable } from "./final_checks.ts";
import type { SimMember } from "./member.ts";
import { chooseScenario } from "./scenario.ts";
import { formatTime, Trace } from "./trace.ts";

/** The trace lines worth narrating (the rest — every message — would drown the story). */
const NARRATED = /role leader|CRASH|RESTART|return (put|cas|delete)|installed snapshot/;
/** Client write lines narrated per phase, so the story stays short. */
const MAX_WRITES_NARRATED = 4;

export function runDemo(seed: number, print: (line: string) => void): void {
  const scenario = chooseScenario(seed, {
    clusterSize: 3,
    noFaults: true,
    network: { lossChance: 0, duplicateChance: 0, tailChance: 0 },
    workload: { clients: 2, thinkTicksMax: 10 },
  });
  let writesNarrated = 0;
  const narrate = (line: string): void => {
    if (!NARRATED.test(line)) return;
    if (/return/.test(line) && ++writesNarrated > MAX_WRITES_NARRATED) return;
    print(line);
  };
  const cluster = new SimCluster(scenario, new Trace(true, narrate));
  const tickUs = scenario.baseTickUs;
  const runTicks = (ticks: number): void => {
    cluster.scheduler.runUntil(cluster.scheduler.nowUs + ticks * tickUs);
  };
  print(
    `qmesh demo (seed ${seed}): 3 members, 2 clients, simulated network and disk, virtual time`,
  );
  cluster.start();
  const first = waitForLeader(cluster, runTicks);
  print(`-- ${first.name} leads; the clients write for a while`);
  writesNarrated = 0;
  runTicks(100);
  print(`-- crashing the leader ${first.name}`);
  cluster.crash(first);
  writesNarrated = 0;
  const second = waitForLeader(cluster, runTicks);
  print(`-- ${second.name} took over; writes continue`);
  runTicks(100);
  print(`-- restarting ${first.name}: it recovers from its disk and catches up`);
  cluster.restart(first);
  writesNarrated = MAX_WRITES_NARRATED;
  runTicks(100);
  for (const client of cluster.clients) client.stop();
  runTicks(50);
  summarize(cluster, print);
}

function waitForLeader(cluster: SimCluster, runTicks: (ticks: number) => void): SimMember {
  for (let waited = 0; waited < 100; waited++) {
    const leader = cluster.leader();
    if (leader !== null) return leader;
    runTicks(1);
  }
  throw new Error("no leader elected within 100 ticks");
}

function summarize(cluster: SimCluster, print: (line: string) => void): void {
  const members = [...cluster.members.values()];
  print(`-- at ${formatTime(cluster.scheduler.nowUs).trim()} of virtual time:`);
  for (const member of members) {
    print(
      `   ${member.name}: ${member.role}, term ${member.term}, applied ${member.appliedIndex}, state ${member.stateText}`,
    );
  }
  const same = new Set(members.map((member) => member.stateText)).size === 1;
  print(`   replicas identical: ${same ? "yes" : "NO"}`);
  const completed = cluster.clients.reduce((sum, client) => sum + client.stats.completed, 0);
  print(`   ${completed} client operations completed; history ${checkLinearizable(cluster)}`);
}
