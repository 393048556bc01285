// npm run bench:ledger — what the ledger costs and how fast it answers, in one run:
//   0. the apply path in-process, with and without the ledger hook (µs per entry);
//   1. put throughput and latency of a 3-member cluster with the ledger on against the same build
//      with --ledger false, alternated (on, off, off, on, off, on) so drift on a shared machine
//      cancels, and the members' CPU time per write, which that drift moves far less;
//   2. inclusion proofs served per second by one member over gRPC (each checked by the client),
//      the proofs per second the member's tree computes in-process (no RPC), and what encoding
//      a reply of 100 of them costs, by hand and through proto-loader;
//   3. verifying a member's stored tree from its leaves (the core of `qmesh ledger verify`);
//   4. Ed25519 and ML-DSA-65 checkpoint signing and verification;
//   5. the initial corruption check's local work on that member's data (history hash, live keys).
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import type * as grpc from "@grpc/grpc-js";
import { encodeInclusionProofs } from "../src/api/grpc/proof_wire.ts";
import { services } from "../src/api/grpc/proto.ts";
import { MvccStore } from "../src/kv/index.ts";
import {
  cosignCheckpoint,
  generateLedgerKeys,
  LedgerTree,
  publicLedgerKeys,
  signCheckpoint,
  verifyCheckpoint,
  verifyStoredTree,
} from "../src/ledger/index.ts";
import { dataDirLayout } from "../src/node/data_dir.ts";
import { LEDGER_DB } from "../src/node/member_ledger.ts";
import { TestCluster } from "../test/process/harness.ts";
import { benchApplyPath } from "./ledger_apply.ts";
import { cpuSeconds, percentile, type Run, runLoad } from "./load.ts";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    concurrency: { type: "string", default: "16,128" },
    "apply-only": { type: "boolean", default: false },
  },
});
const SECONDS = Number(args.seconds);
const LEVELS = args.concurrency!.split(",").map(Number);
const PROOF_CLIENT = new URL("./proof_client.ts", import.meta.url).pathname;
const NAMES = ["n1", "n2", "n3"];
const out = (line = "") => process.stdout.write(`${line}\n`);

async function startCluster(ledger: boolean): Promise<{ cluster: TestCluster; leader: string }> {
  const cluster = new TestCluster();
  const flags = ["--heartbeat-interval", "100", "--election-timeout", "1000"];
  const leader = await cluster.startAll(NAMES, [...flags, "--ledger", String(ledger)]);
  return { cluster, leader };
}

/** One round: a fresh cluster, warmed up, then each concurrency level. */
async function writeRound(ledger: boolean, keep: boolean) {
  const { cluster, leader } = await startCluster(ledger);
  const url = cluster.spec(leader).clientUrl;
  const pids = new Map(NAMES.map((n) => [n, cluster.processes.get(n)!.pid!]));
  await runLoad([url], 16, new Map(), null, 2);
  const runs: Run[] = [];
  for (const level of LEVELS) runs.push(await runLoad([url], level, pids, null, SECONDS));
  if (!keep) await cluster.destroy();
  return { runs, cluster, leader };
}

/** Proofs served per second, and the member's CPU per proof (µs): what one of its cores serves. */
async function proofsOverGrpc(
  cluster: TestCluster,
  leader: string,
  batch: number,
  processes: number,
  inFlight: number,
): Promise<{ rate: number; memberCpuUs: number }> {
  const url = cluster.spec(leader).clientUrl;
  const { body } = await cluster.call(leader, "/v3/ledger/checkpoint", {});
  const size = String(body.tree_size);
  const root = String(body.root_hash);
  const pid = cluster.processes.get(leader)!.pid!;
  const cpuBefore = cpuSeconds(pid);
  // Several processes: one Node client saturates a core well below what the member can answer.
  const clients = Array.from({ length: processes }, () =>
    spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        PROOF_CLIENT,
        url,
        String(inFlight),
        String(SECONDS),
        size,
        root,
        String(batch),
      ],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    ),
  );
  const results = await Promise.all(
    clients.map(
      (child) =>
        new Promise<{ served: number; failed: number }>((resolve, reject) => {
          let text = "";
          child.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()));
          child.on("exit", (code) =>
            code === 0
              ? resolve(JSON.parse(text))
              : reject(new Error(`proof client exited ${code}`)),
          );
        }),
    ),
  );
  const failed = results.reduce((sum, r) => sum + r.failed, 0);
  if (failed > 0) out(`  ${failed} proofs failed or did not verify`);
  const served = results.reduce((sum, r) => sum + r.served, 0);
  return { rate: served / SECONDS, memberCpuUs: ((cpuSeconds(pid) - cpuBefore) / served) * 1e6 };
}

/** Opens a stopped member's store and ledger tree, as `qmesh ledger verify` does. */
function openMemberLedger(dataDir: string): { kv: MvccStore; tree: LedgerTree } {
  const kv = MvccStore.open(dataDirLayout(dataDir).kv);
  return { kv, tree: new LedgerTree(kv.sideDatabase(LEDGER_DB)) };
}

function timePerOp(work: () => void, minMs = 1500): number {
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    work();
    runs++;
  }
  return (performance.now() - start) / runs;
}

async function timePerOpAsync(work: () => Promise<unknown>, count: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) await work();
  return (performance.now() - start) / count;
}

const median = (values: readonly number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

// 0. The apply path alone, in-process.
await benchApplyPath(out);
out();
if (args["apply-only"]) process.exit(0);

// 1. Writes, ledger on and off.
// The last round is kept for the proof and verify sections below, so it has the ledger on.
const order = [true, false, false, true, false, true];
const byLevel = new Map<number, { on: Run[]; off: Run[] }>(
  LEVELS.map((l) => [l, { on: [], off: [] }]),
);
let kept: { cluster: TestCluster; leader: string } | null = null;
for (const [i, ledger] of order.entries()) {
  const last = i === order.length - 1;
  const round = await writeRound(ledger, last);
  if (last) kept = round;
  for (const run of round.runs) {
    byLevel.get(run.concurrency)![ledger ? "on" : "off"].push(run);
    out(
      `round ${i + 1} ledger ${ledger ? "on " : "off"} c=${run.concurrency}: ${run.writesPerSecond.toFixed(0)} writes/s, p99 ${run.p99Ms.toFixed(1)} ms`,
    );
  }
}
out();
out("Medians of the rounds of each setting. Member CPU: the three members' CPU time per write.");
out(
  "| concurrency | ledger on writes/s | ledger off writes/s | throughput on/off | p99 on ms | p99 off ms | p99 on/off | member CPU on ms/write | off | CPU on/off |",
);
out("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
const cpuPerWrite = (run: Run) =>
  (NAMES.reduce((sum, name) => sum + (run.cpu[name] ?? 0), 0) / run.writesPerSecond) * 1000;
for (const [level, { on, off }] of byLevel) {
  const onRate = median(on.map((r) => r.writesPerSecond));
  const offRate = median(off.map((r) => r.writesPerSecond));
  const onP99 = median(on.map((r) => r.p99Ms));
  const offP99 = median(off.map((r) => r.p99Ms));
  const onCpu = median(on.map(cpuPerWrite));
  const offCpu = median(off.map(cpuPerWrite));
  out(
    `| ${level} | ${onRate.toFixed(0)} | ${offRate.toFixed(0)} | ${(onRate / offRate).toFixed(3)} | ${onP99.toFixed(1)} | ${offP99.toFixed(1)} | ${(onP99 / offP99).toFixed(3)} | ${onCpu.toFixed(3)} | ${offCpu.toFixed(3)} | ${(onCpu / offCpu).toFixed(3)} |`,
  );
}

// 2. Proofs from one member, then 3. the stored tree re-verified, on that member's data.
const { cluster, leader } = kept!;
const single = await proofsOverGrpc(cluster, leader, 1, 2, 32);
const batched = await proofsOverGrpc(cluster, leader, 100, 3, 2);
const dataDir = cluster.spec(leader).dataDir;
await Promise.all(NAMES.map((n) => cluster.kill9(n)));
const { kv, tree } = openMemberLedger(dataDir);
const size = tree.committedTreeSize;
let next = 0;
const proofMs = timePerOp(() => {
  tree.inclusionProof(next, size);
  next = (next + 7919) % size;
});
// The same 100 proofs as one InclusionProofs reply, encoded as the member does (by hand) and as
// proto-loader would: what proof_wire.ts saves per proof.
const reply = {
  header: { cluster_id: "205084305469", member_id: "1", revision: "1", raft_term: "2" },
  tree_size: String(size),
  root_hash: tree.root(size),
  proofs: Array.from({ length: 100 }, (_, i) => {
    const index = (i * 7919) % size;
    return {
      leaf_index: String(index),
      leaf: tree.leaf(index)!,
      proof: tree.inclusionProof(index, size),
    };
  }),
};
const inclusionProofs = (services.Ledger as grpc.ServiceClientConstructor).service.InclusionProofs!;
const handEncodeUs = timePerOp(() => encodeInclusionProofs(reply)) * 10;
const libraryEncodeUs = timePerOp(() => inclusionProofs.responseSerialize(reply)) * 10;
const verifyStart = performance.now();
const verified = verifyStoredTree(tree);
const verifySeconds = (performance.now() - verifyStart) / 1000;
const checkStart = performance.now();
const history = await kv.hashHistory(kv.revision);
const historyMs = performance.now() - checkStart;
const liveStart = performance.now();
const liveProblem = await kv.checkLiveKeys();
const liveMs = performance.now() - liveStart;
const liveKeys = kv.range({
  key: Uint8Array.of(0),
  rangeEnd: Uint8Array.of(0),
  countOnly: true,
}).count;
await kv.close();
await cluster.destroy();
out();
out(`ledger of ${size} leaves on the leader after the rounds`);
out(
  `inclusion proofs over gRPC from one member, one per call: ${single.rate.toFixed(0)}/s (2 client processes × 32 calls in flight, 1 call in 10 checked); member CPU ${single.memberCpuUs.toFixed(1)} µs per proof`,
);
out(
  `inclusion proofs over gRPC from one member, 100 per InclusionProofs call: ${batched.rate.toFixed(0)}/s (3 client processes × 2 calls in flight; 1 call in 10 checked whole, the others' proofs counted); member CPU ${batched.memberCpuUs.toFixed(1)} µs per proof, so one core of the member serves ${(1e6 / batched.memberCpuUs).toFixed(0)}/s`,
);
out(
  `inclusion proofs computed in-process: ${(1000 / proofMs).toFixed(0)}/s (${(proofMs * 1000).toFixed(1)} µs each)`,
);
out(
  `InclusionProofs reply of 100 proofs, encoding: ${handEncodeUs.toFixed(2)} µs per proof by hand (proof_wire.ts), ${libraryEncodeUs.toFixed(2)} through proto-loader`,
);
out(
  `stored tree re-verified from its leaves: ${(verified.size / verifySeconds).toFixed(0)} leaves/s (${verified.size} in ${verifySeconds.toFixed(2)} s, ${verified.problems.length} problems)`,
);

// 4. Signatures over one checkpoint.
const keys = generateLedgerKeys("bench-member");
const trusted = [publicLedgerKeys(keys)];
const checkpoint = { origin: "qmesh/cluster/bench", size, rootHash: verified.root, extensions: [] };
const ed = generateLedgerKeys("bench-ed", { mldsa: false });
const pq = generateLedgerKeys("bench-pq", { ed25519: false });
const at = 1_700_000_000;
const edSignMs = timePerOp(() => cosignCheckpoint(ed, checkpoint, at), 1000);
const pqSignMs = timePerOp(() => cosignCheckpoint(pq, checkpoint, at), 2000);
const edNote = signCheckpoint(ed, checkpoint, at);
const pqNote = signCheckpoint(pq, checkpoint, at);
const edVerifyMs = await timePerOpAsync(
  () => verifyCheckpoint(edNote, [publicLedgerKeys(ed)], 1),
  500,
);
const pqVerifyMs = await timePerOpAsync(
  () => verifyCheckpoint(pqNote, [publicLedgerKeys(pq)], 1),
  100,
);
const bothNote = signCheckpoint(keys, checkpoint, at);
const bothVerifyMs = await timePerOpAsync(() => verifyCheckpoint(bothNote, trusted, 1), 100);
out();
out("| signature | sign ms | verify ms (verifyCheckpoint, WebCrypto / noble) |");
out("| --- | ---: | ---: |");
out(`| Ed25519 (C2SP cosignature/v1) | ${edSignMs.toFixed(3)} | ${edVerifyMs.toFixed(3)} |`);
out(`| ML-DSA-65 | ${pqSignMs.toFixed(2)} | ${pqVerifyMs.toFixed(2)} |`);
out(
  `| both (one member's checkpoint) | ${(edSignMs + pqSignMs).toFixed(2)} | ${bothVerifyMs.toFixed(2)} |`,
);

out();
out(
  `initial corruption check, local work on the leader's data: history hash of ${history.records} records in ${historyMs.toFixed(0)} ms (${((history.records / historyMs) * 1000).toFixed(0)} records/s); ${liveKeys} live keys checked against their history in ${liveMs.toFixed(0)} ms (${liveProblem ?? "consistent"})`,
);
