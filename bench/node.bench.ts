// npm run bench:node — a local 3-member qmesh cluster (real processes, TLS between members,
// durable WAL) under load from separate client processes: 100-byte puts at concurrency 1, 16
// and 128. Reports writes/s, p50/p99 latency, the WAL fsync latency the members measured, and
// each process's CPU. The floor is measured in the same run: one fdatasync of a 4 KiB append
// plus one loopback TCP round trip. With --etcd, the same load runs against etcd (Debian's
// etcd-server, its JSON gateway) on loopback for a side-by-side ratio.
import { spawnSync } from "node:child_process";
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { EtcdCluster } from "../test/compat/etcd_reference.ts";
import { TestCluster } from "../test/process/harness.ts";
import { findLeader } from "./etcd/clusters.ts";
import { percentile, type Run, runLoad } from "./load.ts";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    concurrency: { type: "string", default: "1,16,128" },
    etcd: { type: "boolean", default: false },
  },
});
const SECONDS = Number(args.seconds);
const LEVELS = args.concurrency!.split(",").map(Number);

function measureFsyncMs(): number {
  const dir = mkdtempSync(join(tmpdir(), "qmesh-fsync-"));
  const fd = openSync(join(dir, "f"), "w");
  const block = Buffer.alloc(4096, 1);
  const samples: number[] = [];
  for (let i = 0; i < 500; i++) {
    writeSync(fd, block);
    const start = performance.now();
    fdatasyncSync(fd);
    samples.push(performance.now() - start);
  }
  closeSync(fd);
  rmSync(dir, { recursive: true });
  return percentile(
    samples.sort((a, b) => a - b),
    0.5,
  );
}

async function measureRoundTripMs(): Promise<number> {
  const server = createServer((socket) => socket.on("data", (data) => socket.write(data)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as import("node:net").AddressInfo).port;
  const socket = connect(port, "127.0.0.1");
  socket.setNoDelay(true);
  await new Promise((resolve) => socket.once("connect", resolve));
  const samples: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const start = performance.now();
    socket.write("x");
    await new Promise((resolve) => socket.once("data", resolve));
    samples.push(performance.now() - start);
  }
  socket.destroy();
  server.close();
  return percentile(
    samples.sort((a, b) => a - b),
    0.5,
  );
}

async function sequentialOnHttpEcho(): Promise<number> {
  const server = createHttpServer((request, response) => {
    request.resume();
    request.on("end", () => response.end('{"header":{}}'));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as import("node:net").AddressInfo).port;
  try {
    const run = await runLoad([`http://127.0.0.1:${port}`], 1, new Map(), null, 3);
    return run.p50Ms;
  } finally {
    server.close();
  }
}

async function sequentialOnSingleMember(): Promise<number> {
  const cluster = new TestCluster();
  try {
    await cluster.define(["s1"]);
    await cluster.start("s1", ["s1"], "new", [
      "--heartbeat-interval",
      "100",
      "--election-timeout",
      "1000",
    ]);
    await cluster.waitForLeader(["s1"]);
    const url = cluster.spec("s1").clientUrl;
    await runLoad([url], 16, new Map(), null, 1);
    return (await runLoad([url], 1, new Map(), null, 3)).p50Ms;
  } finally {
    await cluster.destroy();
  }
}

async function benchQmesh(): Promise<Run[]> {
  const cluster = new TestCluster();
  const names = ["n1", "n2", "n3"];
  try {
    await cluster.define(names);
    await Promise.all(
      names.map((name) =>
        cluster.start(name, names, "new", [
          "--heartbeat-interval",
          "100",
          "--election-timeout",
          "1000",
        ]),
      ),
    );
    const leader = await cluster.waitForLeader(names);
    const pids = new Map(
      names.map((name) => [
        name === leader ? `${name} (leader)` : name,
        cluster.processes.get(name)!.pid!,
      ]),
    );
    // Warm up (JIT, the WAL's next segment being preallocated) before measuring.
    await runLoad([cluster.spec(leader).clientUrl], 16, new Map(), null, 2);
    const runs: Run[] = [];
    for (const concurrency of LEVELS) {
      runs.push(
        await runLoad(
          [cluster.spec(leader).clientUrl],
          concurrency,
          pids,
          cluster.spec(leader).metricsUrl,
          SECONDS,
        ),
      );
    }
    return runs;
  } finally {
    await cluster.destroy();
  }
}

async function benchEtcd(): Promise<Run[] | null> {
  if (spawnSync("etcd", ["--version"]).status !== 0) {
    process.stdout.write(
      "etcd not found (apt-get install -y etcd-server): skipping the side-by-side run\n",
    );
    return null;
  }
  const cluster = await EtcdCluster.start(["e1", "e2", "e3"]);
  try {
    const members = cluster.members.map((m) => ({
      name: m.name,
      pid: cluster.processes.get(m.name)!.pid!,
      endpoint: m.clientUrl.replace("http://", ""),
    }));
    const leader = await findLeader(members);
    const leaderUrl = cluster.members.find((m) => m.name === leader)!.clientUrl;
    const pids = new Map(members.map((m) => [m.name, m.pid]));
    const runs: Run[] = [];
    for (const concurrency of LEVELS)
      runs.push(await runLoad([leaderUrl], concurrency, pids, null, SECONDS));
    return runs;
  } finally {
    await cluster.destroy();
  }
}

const fsyncMs = measureFsyncMs();
const roundTripMs = await measureRoundTripMs();
const floorMs = fsyncMs + roundTripMs;
process.stdout.write(
  `floor on this machine: fdatasync(4 KiB) p50 ${fsyncMs.toFixed(3)} ms + loopback round trip p50 ${roundTripMs.toFixed(3)} ms = ${floorMs.toFixed(3)} ms; target sequential p50 < ${(2 * floorMs).toFixed(3)} ms\n\n`,
);
// The parts of a sequential put that are not replication, with the same load generator: an
// HTTP exchange with a server that answers at once, and a put to a member that is alone.
const httpPart = await sequentialOnHttpEcho();
const singlePart = await sequentialOnSingleMember();
process.stdout.write(
  `sequential parts: HTTP round trip to a constant answer p50 ${httpPart.toFixed(3)} ms; put on a single-member qmesh (HTTP + WAL fsync + apply, no replication) p50 ${singlePart.toFixed(3)} ms\n\n`,
);
const qmesh = await benchQmesh();
const etcd = args.etcd ? await benchEtcd() : null;
const cpuText = (cpu: Record<string, number>) =>
  Object.entries(cpu)
    .map(([name, share]) => `${name} ${(share * 100).toFixed(0)}%`)
    .join(", ");
process.stdout.write(
  "| system | concurrency | writes/s | p50 ms | p99 ms | errors | WAL fsync p50 ms | entries/fsync | CPU per process |\n",
);
process.stdout.write("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
for (const [system, runs] of [
  ["qmesh", qmesh],
  ["etcd", etcd],
] as const) {
  for (const run of runs ?? []) {
    process.stdout.write(
      `| ${system} | ${run.concurrency} | ${run.writesPerSecond.toFixed(0)} | ${run.p50Ms.toFixed(2)} | ${run.p99Ms.toFixed(2)} | ${run.errors} | ${run.fsyncP50Ms?.toFixed(3) ?? "–"} | ${run.entriesPerFsync?.toFixed(1) ?? "–"} | ${cpuText(run.cpu)} |\n`,
    );
  }
}
if (etcd !== null) {
  process.stdout.write("\nqmesh / etcd:\n");
  for (const [i, run] of qmesh.entries()) {
    const other = etcd[i]!;
    process.stdout.write(
      `  concurrency ${run.concurrency}: throughput ${(run.writesPerSecond / other.writesPerSecond).toFixed(2)}x, p50 ${(run.p50Ms / other.p50Ms).toFixed(2)}x\n`,
    );
  }
}
const sequential = qmesh.find((run) => run.concurrency === 1);
const loaded = qmesh.find((run) => run.concurrency === 128);
if (sequential !== undefined) {
  process.stdout.write(
    `\nsequential p50 ${sequential.p50Ms.toFixed(3)} ms vs target ${(2 * floorMs).toFixed(3)} ms: ${sequential.p50Ms < 2 * floorMs ? "met" : "NOT met"}\n`,
  );
}
if (loaded !== undefined) {
  process.stdout.write(
    `concurrency 128: ${loaded.writesPerSecond.toFixed(0)} writes/s vs target 3000: ${loaded.writesPerSecond >= 3000 ? "met" : "NOT met"}\n`,
  );
}
