// ConfChanger beyond the scenarios: copy semantics, invariant checks, and restoring configs
// from ConfStates (checked against random sequences of valid changes).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Progress, ProgressTracker, sortedIds } from "../tracker/index.ts";
import {
  type ConfChangeSingle,
  ConfChangeType,
  type ConfState,
  EMPTY_CONF_STATE,
  type NodeId,
} from "../types.ts";
import { ConfChangeError, ConfChanger, restoreConfState } from "./confchange.ts";

const voter = (nodeId: NodeId): ConfChangeSingle => ({ type: ConfChangeType.AddNode, nodeId });
const learner = (nodeId: NodeId): ConfChangeSingle => ({
  type: ConfChangeType.AddLearnerNode,
  nodeId,
});
const removal = (nodeId: NodeId): ConfChangeSingle => ({
  type: ConfChangeType.RemoveNode,
  nodeId,
});

function trackerOf(confState: ConfState, lastIndex = 5): ProgressTracker {
  const tracker = new ProgressTracker(4, 0);
  const restored = restoreConfState(confState, lastIndex, 4, 0);
  tracker.config = restored.config;
  tracker.progress = restored.progress;
  return tracker;
}

function conf(fields: Partial<ConfState>): ConfState {
  return { ...EMPTY_CONF_STATE, ...fields };
}

describe("ConfChanger", () => {
  it("does not touch the tracker it was given", () => {
    const tracker = trackerOf(conf({ voters: [1, 2] }));
    const before = tracker.confState();
    const progressBefore = tracker.progress;
    const next = new ConfChanger(tracker, 9).enterJoint(false, [learner(1), voter(3)]);
    assert.deepEqual(tracker.confState(), before);
    assert.equal(tracker.progress, progressBefore);
    assert.deepEqual(sortedIds(tracker.progress.keys()), [1, 2]);
    assert.notEqual(next.progress.get(1), tracker.progress.get(1));
  });

  it("carries the flow-control state of existing members over", () => {
    const tracker = trackerOf(conf({ voters: [1, 2] }));
    const follower = tracker.progress.get(2)!;
    follower.maybeUpdate(7);
    follower.becomeReplicate();
    follower.sentEntries(2, 20);
    const next = new ConfChanger(tracker, 9).simple([learner(3)]);
    const copy = next.progress.get(2)!;
    assert.equal(copy.toString(), follower.toString());
    copy.inflights.freeLE(9);
    assert.equal(follower.inflights.count(), 1);
  });

  it("gives new members fresh, active progress from the last index", () => {
    const tracker = trackerOf(conf({ voters: [1] }));
    const next = new ConfChanger(tracker, 42).simple([voter(2)]);
    const added = next.progress.get(2)!;
    assert.equal(added.match, 0);
    assert.equal(added.next, 42);
    assert.equal(added.recentActive, true);
    assert.equal(added.isLearner, false);
    assert.equal(added.state, "probe");
  });

  it("keeps a removed outgoing voter's progress until the joint config is left", () => {
    const tracker = trackerOf(conf({ voters: [1, 2, 3] }));
    const joint = new ConfChanger(tracker, 9).enterJoint(true, [removal(3), voter(4)]);
    assert.deepEqual(sortedIds(joint.progress.keys()), [1, 2, 3, 4]);
    tracker.config = joint.config;
    tracker.progress = joint.progress;
    const left = new ConfChanger(tracker, 9).leaveJoint();
    assert.deepEqual(sortedIds(left.progress.keys()), [1, 2, 4]);
    assert.equal(left.config.autoLeave, false);
  });

  it("refuses an unknown change type", () => {
    const tracker = trackerOf(conf({ voters: [1] }));
    const bogus = { type: 7, nodeId: 2 } as unknown as ConfChangeSingle;
    assert.throws(
      () => new ConfChanger(tracker, 1).simple([bogus]),
      /unexpected conf change type 7/,
    );
  });

  it("refuses to work from a tracker that breaks the invariants", () => {
    const tracker = trackerOf(conf({ voters: [1] }));
    tracker.progress.set(
      9,
      new Progress({
        match: 0,
        next: 1,
        maxInflightMessages: 4,
        maxInflightBytes: 0,
        isLearner: false,
        recentActive: true,
      }),
    );
    assert.throws(
      () => new ConfChanger(tracker, 1).simple([voter(2)]),
      (error: unknown) =>
        error instanceof ConfChangeError &&
        /progress for 9, which is not a member/.test(error.message),
    );
    tracker.progress.delete(9);
    tracker.progress.delete(1);
    assert.throws(() => new ConfChanger(tracker, 1).simple([voter(2)]), /no progress for 1/);
  });
});

describe("restoreConfState", () => {
  it("restores the empty config", () => {
    const restored = restoreConfState(EMPTY_CONF_STATE, 10, 4, 0);
    assert.equal(restored.progress.size, 0);
    assert.equal(restored.config.voters[0].size, 0);
  });

  it("restores a joint config with staged learners", () => {
    const confState = conf({
      voters: [1, 2, 3],
      votersOutgoing: [1, 2, 4, 6],
      learners: [5],
      learnersNext: [4],
      autoLeave: true,
    });
    const tracker = trackerOf(confState, 10);
    assert.deepEqual(tracker.confState(), confState);
    assert.deepEqual(sortedIds(tracker.progress.keys()), [1, 2, 3, 4, 5, 6]);
    assert.equal(tracker.progress.get(4)!.isLearner, false);
    assert.equal(tracker.progress.get(5)!.isLearner, true);
    assert.equal(tracker.progress.get(3)!.next, 10);
  });

  const invalid: [string, ConfState][] = [
    ["learners without voters", conf({ learners: [2] })],
    ["a voter that is also a learner", conf({ voters: [1, 2], learners: [2] })],
    [
      "a staged learner outside the outgoing voters",
      conf({ voters: [1], votersOutgoing: [2], learnersNext: [3] }),
    ],
    ["autoLeave outside a joint config", conf({ voters: [1], autoLeave: true })],
    ["a joint config without incoming voters", conf({ votersOutgoing: [1] })],
  ];
  for (const [name, confState] of invalid) {
    it(`refuses ${name}`, () => {
      assert.throws(() => restoreConfState(confState, 1, 4, 0), ConfChangeError);
    });
  }

  it("round-trips every config reachable by valid changes", () => {
    const change = fc.record({
      type: fc.constantFrom(
        ConfChangeType.AddNode,
        ConfChangeType.AddLearnerNode,
        ConfChangeType.RemoveNode,
      ),
      nodeId: fc.integer({ min: 1, max: 6 }),
    });
    const step = fc.oneof(
      fc.record({
        kind: fc.constant("simple" as const),
        changes: fc.array(change, { maxLength: 2 }),
      }),
      fc.record({
        kind: fc.constant("enter" as const),
        autoLeave: fc.boolean(),
        changes: fc.array(change, { maxLength: 4 }),
      }),
      fc.record({ kind: fc.constant("leave" as const) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 12 }), (steps) => {
        const tracker = new ProgressTracker(4, 0);
        steps.forEach((s, lastIndex) => {
          const changer = new ConfChanger(tracker, lastIndex);
          try {
            const next =
              s.kind === "simple"
                ? changer.simple(s.changes)
                : s.kind === "enter"
                  ? changer.enterJoint(s.autoLeave, s.changes)
                  : changer.leaveJoint();
            tracker.config = next.config;
            tracker.progress = next.progress;
          } catch (error) {
            if (!(error instanceof ConfChangeError)) throw error;
            assert.doesNotMatch(error.message, /invalid config/);
          }
          const confState = tracker.confState();
          const restored = restoreConfState(confState, 1, 4, 0);
          const again = new ProgressTracker(4, 0);
          again.config = restored.config;
          again.progress = restored.progress;
          assert.deepEqual(again.confState(), confState);
          assert.deepEqual(sortedIds(again.progress.keys()), sortedIds(tracker.progress.keys()));
          again.visit((id, progress) => {
            assert.equal(progress.isLearner, tracker.progress.get(id)!.isLearner);
          });
        });
      }),
    );
  });
});
