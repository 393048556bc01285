// Numbers for the etcd side-by-side benchmark: percentiles of latency samples, and what a member
// process has used so far (CPU and memory) read from /proc.
import { readFileSync } from "node:fs";

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export interface Latency {
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** p50 and p99 of samples in microseconds, as milliseconds. */
export function latencyOf(samplesUs: readonly number[]): Latency {
  const sorted = [...samplesUs].sort((a, b) => a - b);
  return { p50Ms: percentile(sorted, 0.5) / 1000, p99Ms: percentile(sorted, 0.99) / 1000 };
}

// USER_HZ: /proc reports CPU time in clock ticks of 1/100 s on Linux.
const TICKS_PER_SECOND = 100;

/** CPU milliseconds (user + system) a process has used, or NaN once it is gone. */
export function cpuMs(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

export interface Memory {
  /** Resident set, and its anonymous (heap) and file-backed (mmap of data files) parts, MiB. */
  readonly rssMiB: number;
  readonly anonMiB: number;
  readonly fileMiB: number;
}

export function memoryOf(pid: number): Memory {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
    return {
      rssMiB: kib("VmRSS") / 1024,
      anonMiB: kib("RssAnon") / 1024,
      fileMiB: kib("RssFile") / 1024,
    };
  } catch {
    return { rssMiB: Number.NaN, anonMiB: Number.NaN, fileMiB: Number.NaN };
  }
}

/** CPU milliseconds the whole machine has been busy (all cores, every process), from /proc/stat. */
export function machineBusyMs(): number {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1);
  // user nice system idle iowait irq softirq steal: everything but idle and iowait.
  const busy = [0, 1, 2, 5, 6, 7].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
  return (busy * 1000) / TICKS_PER_SECOND;
}
