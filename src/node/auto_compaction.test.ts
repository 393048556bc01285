import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  PeriodicSchedule,
  parseAutoCompaction,
  parseGoDuration,
  REVISION_CHECK_MS,
  RevisionSchedule,
} from "./auto_compaction.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Drives a schedule step by step; revisionAt gives the store's revision at a time. */
function run(
  schedule: PeriodicSchedule | RevisionSchedule,
  untilMs: number,
  revisionAt: (ms: number) => number,
  isLeaderAt: (ms: number) => boolean = () => true,
): [number, number][] {
  const compactions: [number, number][] = [];
  for (let now = schedule.stepMs; now <= untilMs; now += schedule.stepMs) {
    const revision = schedule.due(now, revisionAt(now), isLeaderAt(now));
    if (revision !== null) {
      compactions.push([now, revision]);
      schedule.done(now, revision);
    }
  }
  return compactions;
}

describe("auto compaction retention (etcd's flag values)", () => {
  it("reads hours, Go durations and revision counts", () => {
    assert.deepEqual(parseAutoCompaction("periodic", "1"), { mode: "periodic", retentionMs: HOUR });
    assert.deepEqual(parseAutoCompaction("periodic", "72"), {
      mode: "periodic",
      retentionMs: 72 * HOUR,
    });
    assert.deepEqual(parseAutoCompaction("periodic", "30m"), {
      mode: "periodic",
      retentionMs: 30 * MINUTE,
    });
    assert.deepEqual(parseAutoCompaction("revision", "1000"), {
      mode: "revision",
      retention: 1000,
    });
    assert.equal(parseAutoCompaction("periodic", "0"), null);
    assert.equal(parseGoDuration("1h30m"), 90 * MINUTE);
    assert.equal(parseGoDuration("1.5h"), 90 * MINUTE);
    assert.equal(parseGoDuration("2500ms"), 2500);
    assert.equal(parseGoDuration("10"), null);
    assert.equal(parseGoDuration("1d"), null);
    assert.equal(parseGoDuration(""), null);
    assert.throws(() => parseAutoCompaction("revision", "1h"), /number of revisions to keep/);
    assert.throws(() => parseAutoCompaction("periodic", "soon"), /give hours/);
  });
});

describe("periodic auto compaction (etcd's periodic compactor)", () => {
  // One write per second: revision at time t is 1 + t/1s.
  const steady = (ms: number) => 1 + Math.floor(ms / 1000);

  it("first compacts once the retention has passed, at the revision of one retention ago", () => {
    const schedule = new PeriodicSchedule(10 * MINUTE, 0, 1);
    assert.equal(schedule.stepMs, MINUTE);
    const compactions = run(schedule, 25 * MINUTE, steady);
    // At 10 min: the revision at the start. Then every 10 min, at the oldest of the 11 samples
    // kept (etcd keeps period/step + 1), taken 11 min earlier.
    assert.deepEqual(compactions, [
      [10 * MINUTE, steady(0)],
      [20 * MINUTE, steady(9 * MINUTE)],
    ]);
  });

  it("keeps `retention` of history but compacts hourly when the retention is longer", () => {
    const schedule = new PeriodicSchedule(3 * HOUR, 0, 1);
    assert.equal(schedule.stepMs, 6 * MINUTE);
    const compactions = run(schedule, 5 * HOUR, steady);
    assert.deepEqual(
      compactions.map(([at]) => at / HOUR),
      [3, 4, 5],
    );
    for (const [at, revision] of compactions.slice(1)) {
      // The compacted revision is 3 h old (within one sampling step).
      const age = at - (revision - 1) * 1000;
      assert.ok(age >= 3 * HOUR && age <= 3 * HOUR + 6 * MINUTE, `age ${age / MINUTE} min`);
    }
  });

  it("compacts only on the leader, and a new leader catches up from samples it kept", () => {
    const schedule = new PeriodicSchedule(10 * MINUTE, 0, 1);
    const leaderFrom = 30 * MINUTE;
    const compactions = run(schedule, 31 * MINUTE, steady, (ms) => ms >= leaderFrom);
    // Its first step as leader compacts at the revision of one retention (+ a step) earlier.
    assert.deepEqual(compactions, [[30 * MINUTE, steady(19 * MINUTE)]]);
  });

  it("retries every step after a failed compaction", () => {
    const schedule = new PeriodicSchedule(10 * MINUTE, 0, 1);
    let due: number | null = null;
    for (let now = MINUTE; now <= 10 * MINUTE; now += MINUTE)
      due = schedule.due(now, steady(now), true);
    assert.notEqual(due, null);
    // Not confirmed done: asked again at the next step.
    assert.notEqual(schedule.due(11 * MINUTE, steady(11 * MINUTE), true), null);
  });
});

describe("revision auto compaction (etcd's revision compactor)", () => {
  it("every 5 minutes keeps the newest `retention` revisions", () => {
    const schedule = new RevisionSchedule(1000);
    assert.equal(schedule.stepMs, REVISION_CHECK_MS);
    const revisions = [500, 1500, 1500, 4000];
    const compactions = run(
      schedule,
      4 * REVISION_CHECK_MS,
      (ms) => revisions[ms / REVISION_CHECK_MS - 1]!,
    );
    // Not below revision 1; not again at an unchanged revision.
    assert.deepEqual(compactions, [
      [2 * REVISION_CHECK_MS, 500],
      [4 * REVISION_CHECK_MS, 3000],
    ]);
  });

  it("does nothing off the leader", () => {
    const schedule = new RevisionSchedule(10);
    assert.equal(schedule.due(REVISION_CHECK_MS, 100, false), null);
    assert.equal(schedule.due(2 * REVISION_CHECK_MS, 100, true), 90);
  });
});
