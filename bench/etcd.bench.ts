// npm run bench:etcd — qmesh beside etcd over the same gRPC API: a 3-member qmesh cluster and a
// 3-member etcd cluster (Debian's etcd 3.4, its defaults) on loopback, both up for the whole run,
// each phase run against one then the other with the same load generator (forked workers, one
// HTTP/2 connection per member each, requests spread over all three members). Phases: put at
// concurrency 1/16/128, linearizable and serializable gets, 4-operation txns, watch delivery
// latency, and the memory 100,000 keys cost. Keys are never deleted (etcd 3.4 slows down after a
// large DeleteRange), each phase family has its own prefix. Writes its tables into
// docs/benchmarks.md after a full run of both systems.
//
//   npm run bench:etcd -- [--seconds 6] [--phases put1,put16,...] [--skip-etcd] [--workers 3]
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { sleep } from "../test/process/harness.ts";
import { type BenchCluster, etcdAvailable, startEtcd, startQmesh } from "./etcd/clusters.ts";
import { measure, type Outcome } from "./etcd/measure.ts";
import { KEYSPACE, KV_PREFIX, PHASES, VALUE_BYTES } from "./etcd/phases.ts";
import { share, WorkerPool } from "./etcd/pool.ts";
import { type Pair, report } from "./etcd/report.ts";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "6" },
    phases: { type: "string", default: PHASES.map((p) => p.id).join(",") },
    "skip-etcd": { type: "boolean", default: false },
    workers: { type: "string", default: "3" },
  },
});
const SECONDS = Number(args.seconds);
const selected = args.phases!.split(",").map((id) => {
  const phase = PHASES.find((p) => p.id === id.trim());
  if (phase === undefined)
    throw new Error(`unknown phase ${id}; phases: ${PHASES.map((p) => p.id).join(",")}`);
  return phase;
});
const withEtcd = !args["skip-etcd"] && etcdAvailable();
if (!args["skip-etcd"] && !withEtcd)
  process.stdout.write("etcd not found (apt-get install -y etcd-server): qmesh only\n");

const log = (line: string) => process.stdout.write(`${line}\n`);

/** Writes the key space the put/get/txn phases use, then a short warm-up of puts. */
async function prepare(pool: WorkerPool, cluster: BenchCluster): Promise<void> {
  const endpoints = cluster.members.map((m) => m.endpoint);
  const results = await pool.run((worker) => ({
    kind: "load",
    endpoints,
    loops: 4,
    startAt: Date.now() + 500,
    seconds: 0,
    prefix: KV_PREFIX,
    keyspace: KEYSPACE,
    valueBytes: VALUE_BYTES,
    load: {
      from: Math.round((KEYSPACE * worker) / pool.size),
      to: Math.round((KEYSPACE * (worker + 1)) / pool.size),
      batch: 100,
    },
  }));
  const failed = results.find((r) => r.errors > 0);
  if (failed !== undefined) throw new Error(`${cluster.system} preload: ${failed.firstError}`);
  await pool.run((worker) => ({
    kind: "put",
    endpoints,
    loops: share(16, pool.size, worker),
    startAt: Date.now() + 500,
    seconds: 1,
    prefix: KV_PREFIX,
    keyspace: KEYSPACE,
    valueBytes: VALUE_BYTES,
  }));
}

function summary(o: Outcome): string {
  const rate = Math.round(o.ops / o.seconds);
  const watch =
    o.watch === null
      ? ""
      : `, watch p50 ${o.watch.p50Ms.toFixed(2)} p99 ${o.watch.p99Ms.toFixed(2)} ms (${o.watch.events}/${o.watch.expected})`;
  const error = o.errors > 0 ? `, ${o.errors} errors (${o.firstError})` : "";
  return `${o.phase.id} ${o.system}: ${rate} ops/s, p50 ${o.latency.p50Ms.toFixed(2)} p99 ${o.latency.p99Ms.toFixed(2)} ms${watch}${error}`;
}

const BEGIN = "<!-- bench:etcd results (written by npm run bench:etcd) -->";
const END = "<!-- /bench:etcd results -->";

function writeDocs(body: string, command: string): void {
  const file = new URL("../docs/benchmarks.md", import.meta.url);
  const text = readFileSync(file, "utf8");
  const block = `${BEGIN}\nMeasured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC with \`${command}\`:\n\n${body}\n${END}`;
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  const next =
    start >= 0 && end > start
      ? text.slice(0, start) + block + text.slice(end + END.length)
      : `${text.trimEnd()}\n\n## qmesh beside etcd over gRPC — \`npm run bench:etcd\`\n\n${block}\n`;
  writeFileSync(file, next);
}

const clusters: BenchCluster[] = [];
const pool = new WorkerPool(Number(args.workers));
try {
  const started = Date.now();
  clusters.push(await startQmesh());
  if (withEtcd) clusters.push(await startEtcd());
  for (const cluster of clusters) await prepare(pool, cluster);
  log(`clusters up and loaded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const pairs: Pair[] = [];
  for (const [index, phase] of selected.entries()) {
    // Alternate which system goes first, so neither always runs on a machine just warmed up.
    const order = index % 2 === 0 ? clusters : [...clusters].reverse();
    const outcomes = new Map<string, Outcome>();
    for (const cluster of order) {
      const outcome = await measure(pool, cluster, phase, SECONDS);
      outcomes.set(cluster.system, outcome);
      log(summary(outcome));
      await sleep(300);
    }
    pairs.push({ qmesh: outcomes.get("qmesh")!, etcd: outcomes.get("etcd") ?? null });
  }
  const body = report(pairs);
  log(`\n${body}\n`);
  log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (withEtcd && selected.length === PHASES.length) {
    const command = `npm run bench:etcd${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
    writeDocs(body, command);
    log("written to docs/benchmarks.md");
  }
} finally {
  pool.close();
  await Promise.all(clusters.map((cluster) => cluster.stop()));
}
