// The simulator catches real protocol bugs: each deliberate bug in the core (a testing knob),
// with faults biased to expose it, breaks an invariant within a bounded sweep — and the same
// seeds without the bug pass, so it is the bug that was caught, not the bias.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BUG_PROFILES, DELIBERATE_BUGS } from "./bug_profiles.ts";
import type { ScenarioOverrides } from "./scenario.ts";
import { sweep } from "./sweep.ts";
import type { InvariantName } from "./violation.ts";

/** Seeds tried per bug before giving up (each stops at the first violation found). */
const MAX_SEEDS_PER_BUG = 1000;
/** Seeds re-run without the bug, to show the biased faults alone break nothing. */
const MAX_CONTROL_SEEDS = 40;

function withoutBug(overrides: ScenarioOverrides): ScenarioOverrides {
  const raft = { ...overrides.raft, testingKnobs: {} };
  // Lease reads without the knob need CheckQuorum back.
  if (raft.checkQuorum === false) raft.checkQuorum = true;
  return { ...overrides, raft };
}

describe("the simulator catches deliberate bugs", () => {
  for (const bug of DELIBERATE_BUGS) {
    const profile = BUG_PROFILES[bug];
    it(`${bug}: ${profile.description}`, () => {
      const found = sweep({
        fromSeed: 1,
        seedCount: MAX_SEEDS_PER_BUG,
        overrides: profile.overrides,
        stopOnFirstFailure: true,
      });
      const failure = found.failures[0];
      assert.ok(failure !== undefined, `no violation in ${MAX_SEEDS_PER_BUG} seeds`);
      const violation = failure.violation!;
      assert.ok(
        profile.caughtBy.includes(violation.invariant),
        `seed ${failure.seed} broke ${violation.message}`,
      );
      const controlSeeds = Math.min(failure.seed, MAX_CONTROL_SEEDS);
      const control = sweep({
        fromSeed: failure.seed - controlSeeds + 1,
        seedCount: controlSeeds,
        overrides: withoutBug(profile.overrides),
      });
      assert.deepEqual(
        control.failures.map((result) => `seed ${result.seed}: ${result.violation?.message}`),
        [],
        "the same seeds without the bug must pass",
      );
    });
  }

  it("respondBeforePersist breaks Raft safety itself when the durability check is off", () => {
    const safety: readonly InvariantName[] = [
      "election-safety",
      "leader-completeness",
      "state-machine-safety",
      "acknowledged-write-lost",
      "log-matching",
      "linearizability",
    ];
    const found = sweep({
      fromSeed: 1,
      seedCount: MAX_SEEDS_PER_BUG,
      overrides: { ...BUG_PROFILES.respondBeforePersist.overrides, checkDurabilityOnSend: false },
      // The core's own guard ("commit past the last index": a follower lost acknowledged
      // entries) often fires first; look past it for a broken safety property.
      stopAt: (result) => result.violation !== null && safety.includes(result.violation.invariant),
    });
    const failure = found.failures.find((result) => safety.includes(result.violation!.invariant));
    assert.ok(failure !== undefined, `no safety violation in ${found.seedsRun} seeds`);
    for (const other of found.failures) {
      const violation = other.violation!;
      assert.ok(
        safety.includes(violation.invariant) || /past the last index/.test(violation.detail),
        `seed ${other.seed}: unexpected ${violation.message}`,
      );
    }
  });
});
