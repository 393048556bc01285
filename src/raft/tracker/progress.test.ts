// Progress: the per-follower flow-control state machine (etcd's progress_test.go cases).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RaftInvariantError } from "../errors.ts";
import { Progress, type ProgressState } from "./progress.ts";

function progress(
  fields: { match?: number; next?: number; state?: ProgressState; pendingSnapshot?: number } = {},
  maxInflightMessages = 256,
): Progress {
  const result = new Progress({
    match: fields.match ?? 0,
    next: fields.next ?? 1,
    maxInflightMessages,
    maxInflightBytes: 0,
    isLearner: false,
    recentActive: true,
  });
  result.state = fields.state ?? "probe";
  result.pendingSnapshot = fields.pendingSnapshot ?? 0;
  return result;
}

describe("Progress state transitions", () => {
  const cases: [string, Progress, (p: Progress) => void, ProgressState, number][] = [
    [
      "replicate -> probe",
      progress({ match: 1, next: 5, state: "replicate" }),
      (p) => p.becomeProbe(),
      "probe",
      2,
    ],
    [
      "snapshot -> probe resumes after the snapshot",
      progress({ match: 1, next: 5, state: "snapshot", pendingSnapshot: 10 }),
      (p) => p.becomeProbe(),
      "probe",
      11,
    ],
    [
      "snapshot -> probe when match passed the snapshot",
      progress({ match: 12, next: 13, state: "snapshot", pendingSnapshot: 10 }),
      (p) => p.becomeProbe(),
      "probe",
      13,
    ],
    [
      "probe -> replicate",
      progress({ match: 1, next: 5, state: "probe" }),
      (p) => p.becomeReplicate(),
      "replicate",
      2,
    ],
    [
      "replicate -> snapshot keeps next",
      progress({ match: 1, next: 5, state: "replicate" }),
      (p) => p.becomeSnapshot(10),
      "snapshot",
      5,
    ],
  ];
  for (const [name, p, transition, state, next] of cases) {
    it(name, () => {
      p.msgAppFlowPaused = true;
      transition(p);
      assert.equal(p.state, state);
      assert.equal(p.next, next);
      assert.equal(p.msgAppFlowPaused, false);
      assert.equal(p.inflights.count(), 0);
    });
  }

  it("becomeSnapshot records the snapshot and others clear it", () => {
    const p = progress({ match: 1, next: 5, state: "replicate" });
    p.becomeSnapshot(10);
    assert.equal(p.pendingSnapshot, 10);
    assert.equal(p.isPaused(), true);
    p.becomeProbe();
    assert.equal(p.pendingSnapshot, 0);
  });

  it("transitions reset the inflight window", () => {
    const p = progress({ match: 0, next: 1, state: "replicate" });
    p.sentEntries(2, 10);
    assert.equal(p.inflights.count(), 1);
    p.becomeProbe();
    assert.equal(p.inflights.count(), 0);
  });
});

describe("Progress.sentEntries", () => {
  it("replicate: advances next optimistically and tracks the message", () => {
    const p = progress({ match: 3, next: 4, state: "replicate" }, 2);
    p.sentEntries(3, 30);
    assert.equal(p.next, 7);
    assert.equal(p.inflights.count(), 1);
    assert.equal(p.isPaused(), false);
    p.sentEntries(0, 0); // an empty Append (commit update) takes no window slot
    assert.equal(p.inflights.count(), 1);
    p.sentEntries(1, 10);
    assert.equal(p.next, 8);
    assert.equal(p.isPaused(), true);
  });

  it("probe: pauses after a non-empty Append only", () => {
    const p = progress({ match: 3, next: 4, state: "probe" });
    p.sentEntries(0, 0);
    assert.equal(p.isPaused(), false);
    p.sentEntries(2, 20);
    assert.equal(p.isPaused(), true);
    assert.equal(p.next, 4);
  });

  it("snapshot: sending entries is a bug", () => {
    const p = progress({ state: "snapshot", pendingSnapshot: 5 });
    assert.throws(() => p.sentEntries(1, 10), RaftInvariantError);
  });
});

describe("Progress.maybeUpdate", () => {
  const cases: [string, number, number, number, boolean, number, number][] = [
    // name, match, next, ack, updated, match after, next after
    ["stale ack", 3, 5, 2, false, 3, 5],
    ["ack equal to match", 3, 5, 3, false, 3, 5],
    ["ack below next", 3, 5, 4, true, 4, 5],
    ["ack at next", 3, 5, 5, true, 5, 6],
    ["ack past next", 3, 5, 7, true, 7, 8],
  ];
  for (const [name, match, next, ack, updated, matchAfter, nextAfter] of cases) {
    it(name, () => {
      const p = progress({ match, next, state: "replicate" });
      p.msgAppFlowPaused = true;
      assert.equal(p.maybeUpdate(ack), updated);
      assert.equal(p.match, matchAfter);
      assert.equal(p.next, nextAfter);
      assert.equal(p.msgAppFlowPaused, !updated);
    });
  }
});

describe("Progress.maybeDecrTo", () => {
  const cases: [string, ProgressState, number, number, number, number, boolean, number][] = [
    // name, state, match, next, rejected, hint, decreased, next after
    ["replicate: rejection at match is stale", "replicate", 5, 10, 5, 5, false, 10],
    ["replicate: rejection below match is stale", "replicate", 5, 10, 4, 4, false, 10],
    ["replicate: rejection above match falls back to match + 1", "replicate", 5, 10, 9, 9, true, 6],
    ["probe: rejection not at next - 1 is stale", "probe", 0, 10, 5, 5, false, 10],
    ["probe: decrease to the rejected index", "probe", 0, 10, 9, 9, true, 9],
    ["probe: the hint moves next further back", "probe", 0, 10, 9, 2, true, 3],
    ["probe: the hint of 0 probes from 1", "probe", 0, 10, 9, 0, true, 1],
    ["probe: never at or below match", "probe", 4, 10, 9, 1, true, 5],
    ["probe: a hint above rejected is capped", "probe", 0, 10, 9, 20, true, 9],
    ["snapshot: stale unless at next - 1", "snapshot", 0, 10, 8, 2, false, 10],
    ["snapshot: decreases like probe", "snapshot", 0, 10, 9, 2, true, 3],
  ];
  for (const [name, state, match, next, rejected, hint, decreased, nextAfter] of cases) {
    it(name, () => {
      const p = progress({ match, next, state });
      p.msgAppFlowPaused = true;
      assert.equal(p.maybeDecrTo(rejected, hint), decreased);
      assert.equal(p.next, nextAfter);
      if (state !== "replicate") assert.equal(p.msgAppFlowPaused, !decreased);
    });
  }
});

describe("Progress.isPaused", () => {
  for (const [state, flag, paused] of [
    ["probe", false, false],
    ["probe", true, true],
    ["replicate", false, false],
    ["replicate", true, true],
    ["snapshot", false, true],
    ["snapshot", true, true],
  ] as const) {
    it(`${state} with msgAppFlowPaused=${flag}`, () => {
      const p = progress({ state });
      p.msgAppFlowPaused = flag;
      assert.equal(p.isPaused(), paused);
    });
  }

  it("a successful ack unpauses a probe", () => {
    const p = progress({ match: 0, next: 1, state: "probe" });
    p.sentEntries(1, 10);
    assert.equal(p.isPaused(), true);
    p.maybeUpdate(1);
    assert.equal(p.isPaused(), false);
  });
});

describe("Progress.toString and clone", () => {
  it("describes the state for traces", () => {
    const p = progress({ match: 5, next: 6, state: "replicate" }, 1);
    p.sentEntries(1, 10);
    assert.equal(p.toString(), "StateReplicate match=5 next=7 paused inflight=1[full]");
    const q = progress({ match: 5, next: 6, state: "replicate" });
    q.sentEntries(1, 10);
    assert.equal(q.toString(), "StateReplicate match=5 next=7 inflight=1");
    const learner = progress({ match: 0, next: 3, state: "snapshot", pendingSnapshot: 9 });
    learner.isLearner = true;
    learner.recentActive = false;
    assert.equal(
      learner.toString(),
      "StateSnapshot match=0 next=3 learner paused pendingSnap=9 inactive",
    );
  });

  it("clone copies every field and an independent window", () => {
    const p = progress({ match: 2, next: 3, state: "replicate" });
    p.sentEntries(2, 20);
    p.isLearner = true;
    const copy = p.clone();
    assert.equal(copy.toString(), p.toString());
    assert.equal(copy.state, "replicate");
    copy.maybeUpdate(4);
    copy.inflights.freeLE(4);
    assert.equal(p.match, 2);
    assert.equal(p.inflights.count(), 1);
  });
});
