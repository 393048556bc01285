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
  { nemeses: ["pause-isolated-leader"], seed: 401, durationS: 25, broken: true },
];
