// The side-by-side results as Markdown: throughput and latency per phase with qmesh/etcd ratios,
// watch delivery, server cost per 1,000 operations, memory per 100,000 keys, and the targets.

import type { Outcome } from "./measure.ts";
import { MEMORY_KEYS } from "./phases.ts";

const fixed = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "–");
const whole = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en") : "–");
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : "–");
const perSecond = (o: Outcome) => o.ops / o.seconds;

export interface Pair {
  readonly qmesh: Outcome;
  readonly etcd: Outcome | null;
}

function throughputTable(pairs: readonly Pair[]): string[] {
  const lines = [
    "| phase | qmesh ops/s | etcd ops/s | ratio | qmesh p50 ms | etcd p50 ms | ratio | qmesh p99 ms | etcd p99 ms | ratio | errors (q / e) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const { qmesh: q, etcd: e } of pairs) {
    const load = q.phase.kind === "load";
    const unit = load ? " (keys/s; latency per Txn)" : "";
    lines.push(
      `| ${q.phase.id}: ${q.phase.title}${unit} | ${whole(perSecond(q))} | ${e ? whole(perSecond(e)) : "–"} | ${e ? ratio(perSecond(q), perSecond(e)) : "–"} | ${fixed(q.latency.p50Ms)} | ${e ? fixed(e.latency.p50Ms) : "–"} | ${e ? ratio(q.latency.p50Ms, e.latency.p50Ms) : "–"} | ${fixed(q.latency.p99Ms)} | ${e ? fixed(e.latency.p99Ms) : "–"} | ${e ? ratio(q.latency.p99Ms, e.latency.p99Ms) : "–"} | ${q.errors} / ${e?.errors ?? "–"} |`,
    );
  }
  return lines;
}

function watchTable(pairs: readonly Pair[]): string[] {
  const lines = [
    "| phase | system | writes/s | events received / expected | delivery p50 ms | p99 ms | p99 ratio |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const { qmesh: q, etcd: e } of pairs) {
    for (const o of [q, e]) {
      if (o === null || o.watch === null) continue;
      lines.push(
        `| ${o.phase.id} | ${o.system} | ${whole(perSecond(o))} | ${whole(o.watch.events)} / ${whole(o.watch.expected)} | ${fixed(o.watch.p50Ms)} | ${fixed(o.watch.p99Ms)} | ${o === q && e?.watch ? ratio(q.watch!.p99Ms, e.watch.p99Ms) : ""} |`,
      );
    }
  }
  return lines;
}

function costTable(pairs: readonly Pair[]): string[] {
  const lines = [
    "| phase | system | server CPU ms per 1,000 ops (leader / followers = total) | RSS after, MiB (leader / followers) | load generator CPU (ms per 1,000 ops, share of one core) | other processes' CPU (share of one core) |",
    "| --- | --- | --- | --- | --- | ---: |",
  ];
  for (const { qmesh: q, etcd: e } of pairs) {
    for (const o of [q, e]) {
      if (o === null) continue;
      const members = [...o.members].sort((a, b) => Number(b.leader) - Number(a.leader));
      const per1k = (ms: number) => (ms * 1000) / o.ops;
      const total = members.reduce((sum, m) => sum + m.cpuMs, 0);
      lines.push(
        `| ${o.phase.id} | ${o.system} | ${members.map((m) => fixed(per1k(m.cpuMs), 0)).join(" / ")} = ${fixed(per1k(total), 0)} | ${members.map((m) => fixed(m.after.rssMiB, 0)).join(" / ")} | ${fixed(per1k(o.clientCpuMs), 0)}, ${fixed((o.clientCpuMs / 1000 / o.seconds) * 100, 0)}% | ${fixed((o.othersCpuMs / 1000 / o.seconds) * 100, 0)}% |`,
      );
    }
  }
  return lines;
}

/** Mean RSS growth per member over the bulk load, MiB per 100,000 keys. */
export function memoryGrowth(o: Outcome): number {
  const growth = o.members.map((m) => m.after.rssMiB - m.before.rssMiB);
  return ((growth.reduce((a, b) => a + b, 0) / growth.length) * 100_000) / MEMORY_KEYS;
}

function memoryTable(pair: Pair): string[] {
  const lines = [
    `| system | member | RSS before, MiB | after | growth (anonymous + file-backed) |`,
    "| --- | --- | ---: | ---: | --- |",
  ];
  for (const o of [pair.qmesh, pair.etcd]) {
    if (o === null) continue;
    for (const m of o.members) {
      lines.push(
        `| ${o.system} | ${m.name}${m.leader ? " (leader)" : ""} | ${fixed(m.before.rssMiB, 1)} | ${fixed(m.after.rssMiB, 1)} | ${fixed(m.after.rssMiB - m.before.rssMiB, 1)} (${fixed(m.after.anonMiB - m.before.anonMiB, 1)} + ${fixed(m.after.fileMiB - m.before.fileMiB, 1)}) |`,
      );
    }
    lines.push(
      `| ${o.system} | mean per member, per 100,000 keys | | | ${fixed(memoryGrowth(o), 1)} |`,
    );
  }
  return lines;
}

interface Target {
  readonly what: string;
  readonly phase: string;
  readonly value: (q: Outcome, e: Outcome) => number;
  readonly atLeast?: number;
  readonly atMost?: number;
}

const TARGETS: readonly Target[] = [
  {
    what: "put throughput at 128",
    phase: "put128",
    value: (q, e) => perSecond(q) / perSecond(e),
    atLeast: 1.5,
  },
  {
    what: "put p50 at 1",
    phase: "put1",
    value: (q, e) => q.latency.p50Ms / e.latency.p50Ms,
    atMost: 0.7,
  },
  {
    what: "linearizable get throughput at 128",
    phase: "get128",
    value: (q, e) => perSecond(q) / perSecond(e),
    atLeast: 1.5,
  },
  {
    what: "watch delivery p99, 1 writer",
    phase: "watch1",
    value: (q, e) => q.watch!.p99Ms / e.watch!.p99Ms,
    atMost: 1.0,
  },
  {
    what: "watch delivery p99, 16 writers",
    phase: "watch16",
    value: (q, e) => q.watch!.p99Ms / e.watch!.p99Ms,
    atMost: 1.0,
  },
  {
    what: "memory per 100,000 keys",
    phase: "mem100k",
    value: (q, e) => memoryGrowth(q) / memoryGrowth(e),
    atMost: 1.0,
  },
];

function targetLines(pairs: readonly Pair[]): string[] {
  const lines = ["| target (qmesh / etcd) | ratio | met |", "| --- | ---: | --- |"];
  for (const target of TARGETS) {
    const pair = pairs.find((p) => p.qmesh.phase.id === target.phase);
    if (pair?.etcd == null) continue;
    const value = target.value(pair.qmesh, pair.etcd);
    const bound = target.atLeast !== undefined ? `≥ ${target.atLeast}` : `≤ ${target.atMost}`;
    const met =
      target.atLeast !== undefined ? value >= target.atLeast : value <= (target.atMost ?? 0);
    lines.push(`| ${target.what} ${bound} | ${fixed(value)} | ${met ? "yes" : "**no**"} |`);
  }
  return lines;
}

export function report(pairs: readonly Pair[]): string {
  const memory = pairs.find((p) => p.qmesh.phase.kind === "load");
  const sections = [
    throughputTable(pairs),
    pairs.some((p) => p.qmesh.watch !== null) ? watchTable(pairs) : [],
    costTable(pairs),
    memory === undefined ? [] : memoryTable(memory),
    pairs.some((p) => p.etcd !== null) ? targetLines(pairs) : [],
  ];
  return sections
    .filter((lines) => lines.length > 0)
    .map((lines) => lines.join("\n"))
    .join("\n\n");
}
