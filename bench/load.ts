// The write load shared by the benchmarks: separate load-generator processes (load_client.ts)
// putting 100-byte values over the JSON API, with the CPU each process used and the WAL fsync
// figures the member reports.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

const CLIENT = new URL("./load_client.ts", import.meta.url).pathname;

export interface Run {
  readonly concurrency: number;
  readonly writesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly cpu: Record<string, number>;
  readonly fsyncP50Ms: number | null;
  readonly entriesPerFsync: number | null;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** CPU seconds (user + system) a process has used, from /proc. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Sum of a Prometheus histogram's buckets, for deltas between two scrapes. */
async function histogram(metricsUrl: string, name: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const buckets = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = new RegExp(`^${name}_(bucket\\{le="([^"]+)"\\}|sum|count) (\\S+)`).exec(line);
    if (match !== null) buckets.set(match[2] ?? match[1]!, Number(match[3]));
  }
  return buckets;
}

function bucketMedian(before: Map<string, number>, after: Map<string, number>): number | null {
  const total = (after.get("count") ?? 0) - (before.get("count") ?? 0);
  if (total <= 0) return null;
  let previousBound = 0;
  let previousCount = 0;
  for (const [bound, count] of after) {
    if (bound === "count" || bound === "sum" || bound === "+Inf") continue;
    const cumulative = count - (before.get(bound) ?? 0);
    if (cumulative >= total / 2) {
      const within = cumulative - previousCount;
      const fraction = within === 0 ? 0 : (total / 2 - previousCount) / within;
      return (previousBound + fraction * (Number(bound) - previousBound)) * 1000;
    }
    previousBound = Number(bound);
    previousCount = cumulative;
  }
  return null;
}

export async function runLoad(
  urls: readonly string[],
  concurrency: number,
  pids: Map<string, number>,
  metricsUrl: string | null,
  seconds: number,
): Promise<Run> {
  // One client process saturates a core near 3,000 req/s: split high concurrency over two.
  const processes = concurrency >= 64 ? 2 : 1;
  const before = new Map([...pids].map(([name, pid]) => [name, cpuSeconds(pid)]));
  const fsyncBefore =
    metricsUrl === null ? null : await histogram(metricsUrl, "qmesh_wal_fsync_duration_seconds");
  const batchBefore =
    metricsUrl === null ? null : await histogram(metricsUrl, "qmesh_wal_batch_entries");
  const clients = Array.from({ length: processes }, (_, i) =>
    spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        CLIENT,
        urls.join(","),
        String(concurrency / processes),
        String(seconds),
        `${concurrency}-${i}`,
      ],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    ),
  );
  const clientCpu = new Map<number, number>();
  const sampler = setInterval(() => {
    for (const client of clients)
      if (client.pid !== undefined) clientCpu.set(client.pid, cpuSeconds(client.pid));
  }, 250);
  const outputs = await Promise.all(
    clients.map(
      (client) =>
        new Promise<{ acknowledged: number; errors: number; latenciesUs: number[] }>(
          (resolve, reject) => {
            let text = "";
            client.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()));
            client.on("exit", (code) =>
              code === 0
                ? resolve(JSON.parse(text))
                : reject(new Error(`load client exited ${code}`)),
            );
          },
        ),
    ),
  );
  clearInterval(sampler);
  const cpu: Record<string, number> = {};
  for (const [name, pid] of pids) cpu[name] = (cpuSeconds(pid) - before.get(name)!) / seconds;
  cpu.clients = [...clientCpu.values()].reduce((a, b) => a + b, 0) / seconds;
  const latencies = outputs.flatMap((o) => o.latenciesUs).sort((a, b) => a - b);
  let fsyncP50Ms: number | null = null;
  let entriesPerFsync: number | null = null;
  if (metricsUrl !== null) {
    const fsyncAfter = await histogram(metricsUrl, "qmesh_wal_fsync_duration_seconds");
    fsyncP50Ms = bucketMedian(fsyncBefore!, fsyncAfter);
    const batchAfter = await histogram(metricsUrl, "qmesh_wal_batch_entries");
    const syncs = (batchAfter.get("count") ?? 0) - (batchBefore!.get("count") ?? 0);
    entriesPerFsync =
      syncs === 0 ? null : ((batchAfter.get("sum") ?? 0) - (batchBefore!.get("sum") ?? 0)) / syncs;
  }
  return {
    concurrency,
    writesPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 0.5) / 1000,
    p99Ms: percentile(latencies, 0.99) / 1000,
    errors: outputs.reduce((sum, o) => sum + o.errors, 0),
    cpu,
    fsyncP50Ms,
    entriesPerFsync,
  };
}
