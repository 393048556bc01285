// The runs `npm run test:faults` makes by default, about ten minutes in all: every nemesis
// alone, mixed runs, and the deliberately broken build that the checker must catch.
import { NEMESES, type NemesisName } from "./nemesis.ts";
import type { NetworkMode } from "./network.ts";

export interface SweepEntry {
  readonly nemeses: readonly NemesisName[];
  readonly seed: number;
  readonly durationS: number;
  readonly members?: number;
  readonly network?: NetworkMode;
  /** Logical clients per client process, and keys, when not the command line's. */
  readonly concurrency?: number;
  readonly keys?: number;
  /** Against the deliberately broken build: passes only if the checks fail. */
  readonly broken?: boolean;
}

/** A bridge needs two sides of two, so five members: it has a run of its own below. */
const ALONE = NEMESES.filter((nemesis) => nemesis !== "partition-bridge");

export const SWEEP: readonly SweepEntry[] = [
  ...ALONE.map((nemesis, i) => ({ nemeses: [nemesis], seed: 101 + i, durationS: 25 })),
  { nemeses: ["partition-bridge"], seed: 201, durationS: 25, members: 5 },
  // This kernel may lack netem; the proxy adds delay wherever the run happens.
  { nemeses: ["latency"], seed: 202, durationS: 25, network: "proxy" },
  { nemeses: ALONE.filter((n) => n !== "clock-skew"), seed: 301, durationS: 60, members: 5 },
  // The deposed leader's stale window is its lease after waking, under a second; a client whose
  // next operation there is a write is then stuck for its 2 s timeout. With 4 clients pinned to
  // it, some faults had no linearizable read in the window, and a 3-fault run missed the bug in
  // CI. With 8 clients each, 45 s runs on seeds 402-404 were all caught; 60 s gives about 7
  // faults, each a chance to catch it. 24 keys keep the unknown operations per key
  // few enough for the checker to reach a verdict rather than its budget.
  {
    nemeses: ["pause-isolated-leader"],
    seed: 401,
    durationS: 60,
    broken: true,
    concurrency: 8,
    keys: 24,
  },
];
