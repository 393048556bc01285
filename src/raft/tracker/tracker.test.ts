// ProgressTracker: quorum decisions over the membership, including joint configurations.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NodeId } from "../types.ts";
import { Progress } from "./progress.ts";
import { formatTrackerConfig, ProgressTracker, type TrackerConfig } from "./tracker.ts";

function config(
  incoming: NodeId[],
  outgoing: NodeId[] = [],
  learners: NodeId[] = [],
  learnersNext: NodeId[] = [],
): TrackerConfig {
  return {
    voters: [new Set(incoming), new Set(outgoing)],
    learners: new Set(learners),
    learnersNext: new Set(learnersNext),
    autoLeave: false,
  };
}

/** A tracker whose members have the given match indexes. */
function tracker(trackerConfig: TrackerConfig, matches: Record<NodeId, number>): ProgressTracker {
  const result = new ProgressTracker(16, 0);
  result.config = trackerConfig;
  for (const [id, match] of Object.entries(matches)) {
    result.progress.set(
      Number(id),
      new Progress({
        match,
        next: match + 1,
        maxInflightMessages: 16,
        maxInflightBytes: 0,
        isLearner: trackerConfig.learners.has(Number(id)),
        recentActive: false,
      }),
    );
  }
  return result;
}

describe("ProgressTracker.committed", () => {
  it("is the majority match of a simple config", () => {
    assert.equal(tracker(config([1, 2, 3]), { 1: 10, 2: 7, 3: 3 }).committed(), 7);
  });

  it("ignores learners", () => {
    const t = tracker(config([1, 2, 3], [], [4, 5]), { 1: 10, 2: 3, 3: 3, 4: 10, 5: 10 });
    assert.equal(t.committed(), 3);
  });

  it("needs both halves of a joint config", () => {
    const matches = { 1: 10, 2: 9, 3: 8, 4: 2, 5: 1 };
    assert.equal(tracker(config([1, 2, 3], [3, 4, 5]), matches).committed(), 2);
    assert.equal(tracker(config([3, 4, 5], [1, 2, 3]), matches).committed(), 2);
    assert.equal(tracker(config([1, 2, 3], [1, 2, 4]), matches).committed(), 9);
  });

  it("counts a voter without progress as 0", () => {
    assert.equal(tracker(config([1, 2]), { 1: 10 }).committed(), 0);
  });

  it("is +Infinity without voters", () => {
    assert.equal(tracker(config([]), {}).committed(), Number.POSITIVE_INFINITY);
  });
});

describe("ProgressTracker membership queries", () => {
  const joint = tracker(config([1, 2, 3], [3, 4, 5], [6], [5]), {
    1: 0,
    2: 0,
    3: 0,
    4: 0,
    5: 0,
    6: 0,
  });

  it("describes the configuration", () => {
    assert.deepEqual(joint.confState(), {
      voters: [1, 2, 3],
      votersOutgoing: [3, 4, 5],
      learners: [6],
      learnersNext: [5],
      autoLeave: false,
    });
    assert.equal(
      formatTrackerConfig(joint.config),
      "voters=(1 2 3)&&(3 4 5) learners=(6) learners_next=(5)",
    );
    assert.deepEqual(joint.voterIds(), [1, 2, 3, 4, 5]);
    assert.deepEqual(joint.learnerIds(), [6]);
  });

  it("knows joint, singleton and voters", () => {
    assert.equal(joint.isJoint(), true);
    assert.equal(joint.isSingleton(), false);
    assert.equal(joint.isVoter(5), true);
    assert.equal(joint.isVoter(6), false);
    assert.equal(tracker(config([7]), { 7: 0 }).isSingleton(), true);
    assert.equal(tracker(config([7], [7]), { 7: 0 }).isSingleton(), false);
    assert.equal(tracker(config([7, 8]), { 7: 0, 8: 0 }).isJoint(), false);
  });

  it("visits every member in ascending id order", () => {
    const t = tracker(config([30, 10], [], [20]), {});
    for (const id of [30, 20, 10]) {
      t.progress.set(
        id,
        new Progress({
          match: 0,
          next: 1,
          maxInflightMessages: 1,
          maxInflightBytes: 0,
          isLearner: id === 20,
          recentActive: true,
        }),
      );
    }
    const visited: NodeId[] = [];
    t.visit((id) => visited.push(id));
    assert.deepEqual(visited, [10, 20, 30]);
  });
});

describe("ProgressTracker.quorumActive", () => {
  it("needs an active majority of both halves, learners aside", () => {
    const t = tracker(config([1, 2, 3], [3, 4, 5], [6]), { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0 });
    const activate = (ids: NodeId[]) => {
      t.visit((id, progress) => {
        progress.recentActive = ids.includes(id);
      });
    };
    activate([1, 2, 6]);
    assert.equal(t.quorumActive(), false);
    activate([1, 2, 4, 5]);
    assert.equal(t.quorumActive(), true);
    activate([1, 3, 6]);
    assert.equal(t.quorumActive(), false);
    activate([1, 3, 4]);
    assert.equal(t.quorumActive(), true);
  });
});

describe("ProgressTracker votes", () => {
  it("tallies voters only and keeps the first answer", () => {
    const t = tracker(config([1, 2, 3], [], [4]), { 1: 0, 2: 0, 3: 0, 4: 0 });
    t.recordVote(1, true);
    t.recordVote(4, true);
    assert.deepEqual(t.tallyVotes(), { granted: 1, rejected: 0, result: "pending" });
    t.recordVote(2, false);
    t.recordVote(2, true);
    assert.deepEqual(t.tallyVotes(), { granted: 1, rejected: 1, result: "pending" });
    t.recordVote(3, true);
    assert.deepEqual(t.tallyVotes(), { granted: 2, rejected: 1, result: "won" });
    t.resetVotes();
    assert.deepEqual(t.tallyVotes(), { granted: 0, rejected: 0, result: "pending" });
  });

  it("a joint election is lost when the outgoing half refuses", () => {
    const t = tracker(config([1, 2, 3], [4, 5, 6]), {});
    for (const id of [1, 2, 3]) t.recordVote(id, true);
    for (const id of [4, 5]) t.recordVote(id, false);
    assert.deepEqual(t.tallyVotes(), { granted: 3, rejected: 2, result: "lost" });
  });
});
