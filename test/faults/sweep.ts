// The runs `npm run test:faults` makes by default, about ten minutes in all: every nemesis
// alone, mixed runs, and the deliberately broken build that the checker must catch.
import type { NemesisName } from "./nemesis.ts";
import type { NetworkMode } from "./network.ts";

export interface SweepEntry {
  readonly nemeses: readonly NemesisName[];
  readonly seed: number;
  readonly durationS: number;
  readonly members?: number;
  readonly network?: NetworkMode;
  /** Against the deliberately broken build: passes only if the checks fail. */
  readonly broken?: boolean;
}

const ALONE: readonly NemesisName[] = [
  "kill",
  "kill-leader",
  "pause-leader",
  "pause-isolated-leader",
  "partition-leader",
  "partition-halves",
  "partition-oneway",
  "latency",
  "clock-skew",
  "membership",
  "disk-full",
];

export const SWEEP: readonly SweepEntry[] = [
  ...ALONE.map((nemesis, i) => ({ nemeses: [nemesis], seed: 101 + i, durationS: 25 })),
  // A bridge needs two sides of two: five members.
  { nemeses: ["partition-bridge"], seed: 201, durationS: 25, members: 5 },
  // This kernel may lack netem; the proxy adds delay wherever the run happens.
  { nemeses: ["latency"], seed: 202, durationS: 25, network: "proxy" },
  { nemeses: ALONE.filter((n) => n !== "clock-skew"), seed: 301, durationS: 60, members: 5 },
  { nemeses: ["pause-isolated-leader"], seed: 401, durationS: 25, broken: true },
];
