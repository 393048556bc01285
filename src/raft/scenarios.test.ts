// Scenario tests of the Raft core: each test is a script of steps against an in-memory cluster
// of real RawNodes (test_cluster.ts) with a network the script controls, and the exact state
// expected after each step. Every cluster here also checks, after every step, that no term ever
// had two leaders and that no two members applied different entries at the same index.
import assert, { AssertionError } from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeConfChange } from "./confchange/index.ts";
import type { RaftConfig, TestingKnobs } from "./config.ts";
import { ProposalDroppedError } from "./errors.ts";
import { TestCluster } from "./test_cluster.ts";
import {
  type ConfChange,
  type ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  type ConfState,
  EntryType,
  type Message,
  MessageType,
  type NodeId,
} from "./types.ts";

const { Append, AppendResponse, Heartbeat, HeartbeatResponse, RequestVote } = MessageType;
const EMPTY = new Uint8Array(0);
/**
 * A new cluster's log starts with one bootstrap conf change entry per member, of term 1 and
 * committed (as etcd's Bootstrap): the first election is for term 2, its no-op at n + 1.
 */
const BOOT3 = [1, 1, 1];
const BOOT5 = [1, 1, 1, 1, 1];
const text = (s: string) => new TextEncoder().encode(s);

/** Per cluster: term -> the member that led it (outside the class: the base constructor settles). */
const leadersByTerm = new WeakMap<TestCluster, Map<number, NodeId>>();

/** A TestCluster that checks two safety properties after every settle. */
class CheckedCluster extends TestCluster {
  get leaderOfTerm(): Map<number, NodeId> {
    let leaders = leadersByTerm.get(this);
    if (leaders === undefined) leadersByTerm.set(this, (leaders = new Map()));
    return leaders;
  }

  override settle(maxRounds?: number): void {
    super.settle(maxRounds);
    this.checkSafety();
  }

  checkSafety(): void {
    const appliedAt = new Map<number, { by: NodeId; what: string }>();
    for (const [id, member] of this.members) {
      if (member.crashed) continue;
      const status = member.node.status();
      if (status.softState.role === "leader") {
        const term = status.hardState.term;
        const other = this.leaderOfTerm.get(term);
        assert.ok(
          other === undefined || other === id,
          `two leaders in term ${term}: ${other} and ${id}`,
        );
        this.leaderOfTerm.set(term, id);
      }
      for (const entry of member.applied) {
        const what = `${entry.term}/${entry.type}/${new TextDecoder().decode(entry.data)}`;
        const seen = appliedAt.get(entry.index);
        if (seen === undefined) appliedAt.set(entry.index, { by: id, what });
        else {
          assert.equal(
            what,
            seen.what,
            `members ${seen.by} and ${id} applied different entries at ${entry.index}`,
          );
        }
      }
    }
  }

  status(id: NodeId) {
    return this.member(id).node.status();
  }

  /** The leader's view of `follower` (match, next, state). */
  progress(leader: NodeId, follower: NodeId) {
    const progress = this.status(leader).progress.get(follower);
    assert.ok(progress !== undefined, `${leader} has no progress for ${follower}`);
    return progress;
  }

  proposeConfChange(
    id: NodeId,
    changes: ConfChangeSingle[],
    transition: ConfChangeTransition = ConfChangeTransition.Auto,
  ): void {
    const change: ConfChange = { transition, changes, context: EMPTY };
    this.member(id).node.proposeConfChange(change);
    this.settle();
  }

  readIndex(id: NodeId, requestId: string, lease = false): void {
    this.member(id).node.readIndex(text(requestId), { lease });
    this.settle();
  }

  /** The read states member `id` received, as "requestId@index". */
  reads(id: NodeId): string[] {
    return this.member(id).readStates.map(
      (r) => `${new TextDecoder().decode(r.requestId)}@${r.index}`,
    );
  }

  lastIndex(id: NodeId): number {
    return this.status(id).lastIndex;
  }

  confState(id: NodeId): ConfState {
    return this.status(id).confState;
  }
}

function cluster(voters: NodeId[], config: Partial<RaftConfig> = {}): CheckedCluster {
  return new CheckedCluster(voters, { config });
}

/** Counts messages of the given types that the filter sees (and delivers). */
function counter(c: TestCluster, match: (m: Message) => boolean): { count: number } {
  const box = { count: 0 };
  c.setFilter((m) => {
    if (match(m)) box.count++;
    return "deliver";
  });
  return box;
}

function ticksUntil(c: TestCluster, ids: NodeId[], done: () => boolean, maxTicks = 500): number {
  for (let ticks = 1; ticks <= maxTicks; ticks++) {
    for (const id of ids) c.member(id).node.tick();
    c.settle();
    if (done()) return ticks;
  }
  throw new Error(`condition not reached within ${maxTicks} ticks`);
}

const addLearner = (nodeId: NodeId): ConfChangeSingle => ({
  type: ConfChangeType.AddLearnerNode,
  nodeId,
});
const addVoter = (nodeId: NodeId): ConfChangeSingle => ({ type: ConfChangeType.AddNode, nodeId });
const removeNode = (nodeId: NodeId): ConfChangeSingle => ({
  type: ConfChangeType.RemoveNode,
  nodeId,
});

// ---------------------------------------------------------------------------------------------
// 1. Figure 8 of the Raft paper (§5.4.2)
// ---------------------------------------------------------------------------------------------

/**
 * Steps (a) to (c) of Figure 8 with five members. A new cluster's log holds the five bootstrap
 * entries (1-5, term 1), so the first election is for term 2 and the terms are the paper's:
 * the paper's index 2 is index 7 here. Campaigns are driven by the script (no PreVote, no
 * CheckQuorum) and every Append carries one entry, so that delivery is controlled entry by entry.
 */
function figure8ThroughC(knobs: TestingKnobs = {}): CheckedCluster {
  const c = cluster([1, 2, 3, 4, 5], {
    checkQuorum: false,
    preVote: false,
    maxMessageBytes: 1,
    testingKnobs: knobs,
  });
  c.campaign(1);
  assert.equal(c.leader(), 1);
  assert.equal(c.term(1), 2);
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((id) => c.committed(id)),
    [6, 6, 6, 6, 6],
    "the no-op at 6",
  );

  // (a) S1 leads term 2 and appends index 7, which reaches no one else.
  c.isolate(1);
  c.propose(1, "a");
  assert.deepEqual(c.logTerms(1), [...BOOT5, 2, 2]);
  assert.equal(c.committed(1), 6);

  // (b) S1 crashes; S5 is elected for term 3 by S2, S3, S4 and appends index 7 (its no-op) —
  // which reaches no one: S5's Appends are lost.
  c.crash(1);
  c.heal();
  c.setFilter((m) =>
    m.from === 5 && (m.type === Append || m.type === Heartbeat) ? "drop" : "deliver",
  );
  c.campaign(5);
  assert.equal(c.role(5), "leader");
  assert.equal(c.term(5), 3);
  assert.deepEqual(c.logTerms(5), [...BOOT5, 2, 3]);
  assert.deepEqual(c.logTerms(3), [...BOOT5, 2]);

  // (c) S5 crashes; S1 restarts and is elected (term 3 is taken: its first campaign fails, the
  // second, for term 4, wins with S2 and S3; S4 is cut off from S1). Its no-op goes to index 8.
  c.crash(5);
  c.restart(1);
  c.cut(1, 4);
  // S1 replicates index 7 (term 2) to S2 and S3, but its own no-op (term 4) is held: an Append
  // carrying it passes only to a follower that will reject it (lacking the entry before it).
  c.setFilter((m) => {
    const carriesNoop = m.type === Append && m.from === 1 && m.entries.some((e) => e.term === 4);
    const followerWouldAccept = c.logTerms(m.to)[m.index - 1] === m.logTerm;
    return carriesNoop && followerWouldAccept ? "hold" : "deliver";
  });
  c.campaign(1);
  assert.equal(c.role(1), "candidate", "term 3: S2, S3 and S4 already voted for S5");
  assert.equal(c.term(1), 3);
  c.campaign(1);
  assert.equal(c.role(1), "leader");
  assert.equal(c.term(1), 4);
  assert.deepEqual(c.logTerms(1), [...BOOT5, 2, 2, 4]);
  assert.deepEqual(c.logTerms(2), [...BOOT5, 2, 2]);
  assert.deepEqual(c.logTerms(3), [...BOOT5, 2, 2]);
  assert.deepEqual(c.logTerms(4), [...BOOT5, 2]);
  // The leader knows index 7 is on S1, S2 and S3: a majority of five.
  assert.equal(c.progress(1, 2).match, 7);
  assert.equal(c.progress(1, 3).match, 7);
  assert.equal(c.progress(1, 1).match, 8);
  return c;
}

/** The rule under test: index 7 is on a majority but of an earlier term, so it is not committed. */
function assertEarlierTermEntryNotCommitted(c: CheckedCluster): void {
  assert.equal(
    c.committed(1),
    6,
    "index 7 (term 2) is on a majority but must not count as committed",
  );
  assert.deepEqual(c.appliedData(1), []);
}

describe("1. Figure 8: a leader commits entries of earlier terms only through its own", () => {
  it("(c) an entry of an earlier term on a majority is not committed", () => {
    const c = figure8ThroughC();
    assertEarlierTermEntryNotCommitted(c);
  });

  it("(c) -> (d): rightly so — S5 can still be elected and overwrite index 7 everywhere", () => {
    const c = figure8ThroughC();
    assertEarlierTermEntryNotCommitted(c);
    c.setFilter(null);
    c.held = [];
    c.crash(1);
    c.restart(5);
    c.heal();
    c.campaign(5);
    assert.equal(c.role(5), "candidate", "term 4: S2 and S3 voted for S1");
    c.campaign(5);
    assert.equal(
      c.role(5),
      "leader",
      "term 5: S2, S3, S4 vote for S5, whose last term (3) beats theirs (2)",
    );
    assert.equal(c.term(5), 5);
    for (const id of [2, 3, 4, 5])
      assert.deepEqual(c.logTerms(id), [...BOOT5, 2, 3, 5], `log of ${id}`);
    assert.equal(c.committed(5), 8);
    assert.deepEqual(c.appliedData(2), [], "'a' was never applied anywhere");
  });

  it("(c) -> (e): once the leader's term-4 entry is on a majority, it and index 7 commit", () => {
    const c = figure8ThroughC();
    assertEarlierTermEntryNotCommitted(c);
    c.setFilter(null);
    c.releaseHeld((m) => m.to === 2);
    assert.equal(c.progress(1, 2).match, 8);
    assert.equal(c.committed(1), 6, "S1 and S2 have index 8: two of five");
    c.releaseHeld((m) => m.to === 3);
    assert.equal(c.committed(1), 8, "S1, S2, S3 have index 8: it commits, and index 7 with it");
    assert.deepEqual(c.appliedData(1), ["a"]);
    assert.equal(c.committed(2), 8);
    assert.equal(c.committed(3), 8);
    assert.deepEqual(c.appliedData(2), ["a"]);
    // S5 can no longer win: S1, S2, S3 have a log with a later last term than S5's.
    c.crash(1);
    c.restart(5);
    c.heal();
    for (let i = 0; i < 3; i++) c.campaign(5);
    assert.equal(c.role(5), "candidate");
    assert.deepEqual(c.logTerms(2), [...BOOT5, 2, 2, 4]);
    assert.deepEqual(c.logTerms(5), [...BOOT5, 2, 3]);
  });

  it("with the commitEntriesOfEarlierTerms knob, the same script commits index 7 early (the test catches it)", () => {
    const c = figure8ThroughC({ commitEntriesOfEarlierTerms: true });
    assert.equal(c.committed(1), 7);
    assert.deepEqual(c.appliedData(1), ["a"]);
    assert.throws(() => assertEarlierTermEntryNotCommitted(c), AssertionError);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Split votes
// ---------------------------------------------------------------------------------------------

describe("2. Split votes", () => {
  it("two candidates split the vote in term 2; neither wins; a later term elects one leader", () => {
    const c = cluster([1, 2, 3, 4]);
    // Hold every RequestVote (PreVotes pass: with no leader every member grants them).
    c.setFilter((m) => (m.type === RequestVote ? "hold" : "deliver"));
    c.campaign(1);
    c.campaign(2);
    assert.equal(c.role(1), "candidate");
    assert.equal(c.role(2), "candidate");
    assert.equal(c.term(1), 2);
    assert.equal(c.term(2), 2);
    // S3 hears S1 first, S4 hears S2 first; everything else arrives after. (Released messages
    // go through the filter again, so it is cleared first.)
    c.setFilter(null);
    c.releaseHeld((m) => (m.from === 1 && m.to === 3) || (m.from === 2 && m.to === 4));
    c.releaseHeld();
    for (const id of [1, 2, 3, 4]) assert.equal(c.term(id), 2, `term of ${id}`);
    assert.equal(c.leader(), undefined, "2 votes of 4 each: no one wins term 2");
    assert.equal(c.role(1), "follower", "a candidate that cannot win any more gives up");
    assert.equal(c.role(2), "follower");
    assert.equal(c.status(3).hardState.vote, 1);
    assert.equal(c.status(4).hardState.vote, 2);

    // Randomized timeouts: one member times out first and wins term 3.
    const leader = c.electLeader();
    assert.equal(c.term(leader), 3);
    assert.deepEqual([...c.leaderOfTerm], [[3, leader]]);
    for (const id of [1, 2, 3, 4]) {
      assert.equal(c.term(id), 3);
      assert.equal(c.role(id), id === leader ? "leader" : "follower");
    }
    c.propose(leader, "x");
    for (const id of [1, 2, 3, 4]) assert.deepEqual(c.appliedData(id), ["x"]);
  });

  it("three candidates at once in a five-member cluster: at most one leader per term", () => {
    const c = cluster([1, 2, 3, 4, 5], { preVote: false });
    c.setFilter((m) => (m.type === RequestVote ? "hold" : "deliver"));
    c.campaign(1);
    c.campaign(2);
    c.campaign(3);
    // S4 votes for S1, S5 for S2: S1 2/5, S2 2/5, S3 1/5.
    c.setFilter(null);
    c.releaseHeld((m) => (m.from === 1 && m.to === 4) || (m.from === 2 && m.to === 5));
    c.releaseHeld();
    assert.equal(c.leader(), undefined);
    for (const id of [1, 2, 3, 4, 5]) assert.equal(c.term(id), 2);
    const leader = c.electLeader();
    assert.equal(c.term(leader), 3);
    // Keep ticking: the leader stays, the term stays.
    c.tickAll(100);
    assert.equal(c.leader(), leader);
    assert.equal(c.term(leader), 3);
    assert.equal(c.leaderOfTerm.size, 1);
  });
});

// ---------------------------------------------------------------------------------------------
// 3. A partitioned old leader
// ---------------------------------------------------------------------------------------------

describe("3. A partitioned old leader", () => {
  it("loses its proposals, steps down (CheckQuorum), and after the heal follows the new leader", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, "before");
    for (const id of [1, 2, 3]) assert.deepEqual(c.appliedData(id), ["before"]);
    // The leader heard from both followers this election timeout; then it is cut off.
    c.tickAll(1);
    c.isolate(1);
    c.propose(1, "lost-1");
    c.propose(1, "lost-2");
    assert.deepEqual(c.logTerms(1), [...BOOT3, 2, 2, 2, 2], "no-op 4, before 5, lost 6 and 7");
    assert.equal(c.committed(1), 5, "the isolated leader cannot commit");

    // Time passes for everyone. The majority elects a new leader of term 3; the old leader
    // steps down at its next CheckQuorum that finds no quorum active.
    let newLeader: NodeId | undefined;
    let newLeaderElectedAt = 0;
    let oldLeaderSteppedDownAt = 0;
    for (let tick = 1; tick <= 40; tick++) {
      c.tickAll(1);
      if (newLeader === undefined && (c.role(2) === "leader" || c.role(3) === "leader")) {
        newLeader = c.role(2) === "leader" ? 2 : 3;
        newLeaderElectedAt = tick;
      }
      if (oldLeaderSteppedDownAt === 0 && c.role(1) !== "leader") oldLeaderSteppedDownAt = tick;
    }
    assert.ok(newLeader !== undefined);
    assert.equal(c.term(newLeader), 3);
    // The followers wait out their lease promise (an election timeout) before electing.
    assert.ok(newLeaderElectedAt >= 10, `new leader after ${newLeaderElectedAt} ticks`);
    // The old leader checks its quorum every election timeout of its own clock (its ticks 10,
    // 20, ...; the cut came after its tick 1): the check at 10 passes on the acks from before
    // the cut, the one at 20 fails. So it steps down 19 ticks after the cut, within an election
    // timeout of the new leader's election.
    assert.equal(oldLeaderSteppedDownAt, 19);
    assert.ok(oldLeaderSteppedDownAt - newLeaderElectedAt <= 10);
    assert.equal(
      c.term(1),
      2,
      "PreVote: the isolated member's failed pre-campaigns do not raise its term",
    );
    assert.notEqual(c.role(1), "leader");

    // The majority keeps committing.
    c.propose(newLeader, "after");
    const follower = newLeader === 2 ? 3 : 2;
    assert.deepEqual(c.appliedData(newLeader), ["before", "after"]);
    assert.deepEqual(c.appliedData(follower), ["before", "after"]);
    assert.deepEqual(c.appliedData(1), ["before"]);

    // Heal: the old leader hears the new one, adopts term 3 and has its uncommitted entries
    // (indexes 6 and 7 of term 2) replaced by the new leader's (no-op 6 and "after" 7, term 3).
    c.heal();
    c.tickAll(1);
    assert.equal(c.role(1), "follower");
    assert.equal(c.term(1), 3);
    assert.equal(c.status(1).softState.leader, newLeader);
    assert.deepEqual(c.logTerms(1), [...BOOT3, 2, 2, 3, 3]);
    assert.deepEqual(c.logTerms(1), c.logTerms(newLeader));
    assert.equal(c.committed(1), 7);
    assert.deepEqual(c.appliedData(1), ["before", "after"]);
    for (const id of [1, 2, 3]) {
      assert.ok(
        !c.appliedData(id).some((d) => d.startsWith("lost")),
        `${id} never applies a lost write`,
      );
    }
    assert.equal(c.leader(), newLeader);
  });

  it("without CheckQuorum, the isolated leader stays leader of its (stale) term indefinitely", () => {
    const c = cluster([1, 2, 3], { checkQuorum: false });
    c.campaign(1);
    c.isolate(1);
    c.tickAll(100);
    assert.equal(c.role(1), "leader", "only CheckQuorum makes it step down");
    assert.equal(c.term(1), 2);
    const newLeader = c.role(2) === "leader" ? 2 : 3;
    assert.equal(c.role(newLeader), "leader");
    assert.equal(c.term(newLeader), 3);
    // Its proposals still go nowhere; after the heal its higher-term peers depose it.
    c.propose(1, "lost");
    c.heal();
    c.tickAll(1);
    assert.equal(c.role(1), "follower");
    assert.equal(c.term(1), 3);
    assert.deepEqual(c.logTerms(1), c.logTerms(newLeader));
    assert.deepEqual(c.appliedData(1), []);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. A learner promoted during a partition
// ---------------------------------------------------------------------------------------------

/**
 * Adds `id` as a learner through leader `leader`, compacts the leader's log at its applied
 * index (so the new member, which starts empty, must be sent a snapshot, which carries the
 * membership), and lets it catch up.
 */
function addLearnerWithSnapshot(c: CheckedCluster, leader: NodeId, id: NodeId): number {
  c.proposeConfChange(leader, [addLearner(id)]);
  const applied = c.status(leader).appliedIndex;
  assert.deepEqual(c.confState(leader).learners, [id]);
  const storage = c.member(leader).storage;
  storage.createSnapshot(applied, c.member(leader).confState, text(`snapshot@${applied}`));
  storage.compact(applied);
  c.add(id);
  c.tickAll(1);
  return applied;
}

describe("4. A learner promoted during a partition", () => {
  it("catches up by snapshot, is promoted while a voter is cut off, and then counts in the quorum", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, "a");
    c.propose(1, "b");

    // Add 4 as a learner (index 7): it joins empty and is sent the leader's snapshot at 7.
    const snapshotIndex = addLearnerWithSnapshot(c, 1, 4);
    assert.equal(snapshotIndex, 7);
    const learner = c.member(4);
    assert.equal(learner.storage.snapshot().metadata.index, 7);
    assert.deepEqual(learner.storage.snapshot().data, text("snapshot@7"));
    assert.deepEqual(c.confState(4), {
      voters: [1, 2, 3],
      votersOutgoing: [],
      learners: [4],
      learnersNext: [],
      autoLeave: false,
    });
    assert.equal(c.committed(4), 7);
    assert.equal(c.term(4), 2);
    assert.equal(c.progress(1, 4).match, 7);
    assert.equal(c.progress(1, 4).isLearner, true);

    // A learner's ack does not count: with both voters cut off, the leader cannot commit.
    c.cut(1, 2);
    c.cut(1, 3);
    c.propose(1, "c");
    assert.equal(c.progress(1, 4).match, 8, "the learner has index 8");
    assert.equal(c.committed(1), 7, "but only voters count");
    c.heal();
    c.tickAll(1);
    assert.equal(c.committed(1), 8);
    for (const id of [1, 2, 3, 4]) assert.equal(c.committed(id), 8, `commit of ${id}`);
    assert.deepEqual(c.appliedData(4), ["c"], "a and b came in the snapshot");

    // A learner never campaigns, however long it hears nothing.
    c.isolate(4);
    c.tick(4, 100);
    assert.equal(c.role(4), "follower");
    assert.equal(c.term(4), 2);
    c.heal();
    c.tickAll(1);

    // Partition: voter 3 is cut off. Promote 4: the old config {1,2,3} commits it with 1 and 2.
    c.isolate(3);
    c.proposeConfChange(1, [addVoter(4)]);
    const voters1234: ConfState = {
      voters: [1, 2, 3, 4],
      votersOutgoing: [],
      learners: [],
      learnersNext: [],
      autoLeave: false,
    };
    for (const id of [1, 2, 4]) assert.deepEqual(c.confState(id), voters1234, `conf of ${id}`);
    assert.deepEqual(c.confState(3).learners, [4], "3 has not heard of the promotion yet");
    const promotedAt = c.committed(1);
    assert.equal(promotedAt, 9);

    // Now a majority is 3 of 4: 1 and 2 alone (a majority of the old config) no longer commit.
    c.isolate(4);
    c.propose(1, "d");
    assert.equal(c.committed(1), promotedAt, "1 and 2 are not a majority of {1,2,3,4}");
    c.heal();
    c.isolate(3);
    c.tickAll(1);
    assert.equal(c.committed(1), promotedAt + 1, "1, 2 and 4 are");
    assert.deepEqual(c.appliedData(4), ["c", "d"]);

    // Heal: 3 catches up and learns the new membership; everyone agrees.
    c.heal();
    c.tickAll(1);
    for (const id of [1, 2, 3, 4]) {
      assert.deepEqual(c.confState(id), voters1234, `conf of ${id}`);
      assert.deepEqual(c.member(id).confState, voters1234, `applied conf of ${id}`);
      assert.equal(c.committed(id), promotedAt + 1);
    }
    assert.deepEqual(c.appliedData(3), ["a", "b", "c", "d"]);

    // 4 is a full voter: it can lead.
    c.member(1).node.transferLeadership(4);
    c.settle();
    assert.equal(c.leader(), 4);
    assert.equal(c.term(4), 3);
    c.propose(4, "e");
    for (const id of [1, 2, 3, 4]) assert.equal(c.appliedData(id).at(-1), "e");
  });

  it("a member added while the leader's log is uncompacted replays it from index 1, bootstrap included", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, "a"); // 5
    c.proposeConfChange(1, [addLearner(4)]); // 6
    c.add(4);
    c.tickAll(1);
    assert.equal(c.member(4).storage.snapshot().metadata.index, 0, "no snapshot was needed");
    assert.deepEqual(c.logTerms(4), [...BOOT3, 2, 2, 2]);
    assert.deepEqual(c.confState(4), {
      voters: [1, 2, 3],
      votersOutgoing: [],
      learners: [4],
      learnersNext: [],
      autoLeave: false,
    });
    assert.equal(c.committed(4), 6);
    assert.deepEqual(c.appliedData(4), ["a"]);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. A joint configuration whose leader is removed
// ---------------------------------------------------------------------------------------------

function isLeaveJointEntry(m: Message): boolean {
  return m.entries.some(
    (e) => e.type === EntryType.ConfChange && decodeConfChange(e.data).changes.length === 0,
  );
}

describe("5. A joint configuration that removes its leader", () => {
  it("{1,2,3} -> {2,3,4} through a joint config: leader 1 steps down, 2-4 elect a leader, 1 stays quiet", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, "a");
    addLearnerWithSnapshot(c, 1, 4); // index 6
    assert.equal(c.committed(4), 6);

    // Enter the joint config; hold the automatic leave so the joint state can be observed.
    c.setFilter((m) => (m.type === Append && isLeaveJointEntry(m) ? "hold" : "deliver"));
    c.proposeConfChange(1, [removeNode(1), addVoter(4)], ConfChangeTransition.JointImplicit);
    const joint: ConfState = {
      voters: [2, 3, 4],
      votersOutgoing: [1, 2, 3],
      learners: [],
      learnersNext: [],
      autoLeave: true,
    };
    for (const id of [1, 2, 3, 4]) assert.deepEqual(c.confState(id), joint, `joint conf of ${id}`);
    assert.equal(c.role(1), "leader", "1 is still an (outgoing) voter: it keeps leading");
    assert.equal(c.committed(1), 7);
    assert.equal(c.lastIndex(1), 8, "the leader proposed leaving the joint config by itself");
    assert.equal(c.held.length, 3, "the leave entry, held on its way to 2, 3 and 4");

    // The leave entry is committed by the joint quorum; applying it, 1 is out and steps down.
    c.setFilter(null);
    c.releaseHeld();
    const final: ConfState = {
      voters: [2, 3, 4],
      votersOutgoing: [],
      learners: [],
      learnersNext: [],
      autoLeave: false,
    };
    for (const id of [1, 2, 3, 4]) {
      assert.deepEqual(c.confState(id), final, `final conf of ${id}`);
      assert.equal(c.committed(id), 8);
      assert.equal(c.status(id).appliedIndex, 8);
    }
    assert.equal(c.role(1), "follower");
    assert.equal(c.leader(), undefined);
    const appliedChanges = c
      .member(2)
      .applied.filter((e) => e.type === EntryType.ConfChange)
      .map((e) => decodeConfChange(e.data).changes.length);
    assert.deepEqual(
      appliedChanges,
      [1, 1, 1, 1, 2, 0],
      "bootstrap 1-3; add learner 4; enter joint; leave joint",
    );

    // The remaining voters elect one of their own and writes continue.
    let removedMemberCampaigned = false;
    const watch = () => {
      if (c.role(1) === "candidate" || c.role(1) === "pre-candidate" || c.term(1) !== 2) {
        removedMemberCampaigned = true;
      }
    };
    const ticks = ticksUntil(c, [1, 2, 3, 4], () => {
      watch();
      return c.leader() !== undefined;
    });
    assert.ok(ticks <= 20, `elected after ${ticks} ticks`);
    const leader = c.leader()!;
    assert.ok([2, 3, 4].includes(leader), `leader ${leader}`);
    assert.equal(c.term(leader), 3);
    c.propose(leader, "b");
    for (const id of [2, 3]) assert.deepEqual(c.appliedData(id), ["a", "b"], `applied by ${id}`);
    assert.deepEqual(c.appliedData(4), ["b"], "4 got 'a' in its snapshot");
    assert.deepEqual(c.appliedData(1), ["a"], "1 is no longer sent anything");

    // The removed member never campaigns: not with the cluster running, not cut off.
    for (let i = 0; i < 200; i++) {
      c.tickAll(1);
      watch();
    }
    c.isolate(1);
    for (let i = 0; i < 200; i++) {
      c.tick(1);
      watch();
    }
    assert.equal(removedMemberCampaigned, false);
    assert.equal(c.term(1), 2);
    assert.equal(c.role(1), "follower");
    assert.equal(c.leader(), leader);
    assert.equal(c.term(leader), 3, "nobody disrupted the new leader");
    assert.throws(() => c.propose(1, "x"), ProposalDroppedError);
  });
});

describe("5b. Decisions in a joint configuration need both majorities", () => {
  it("{1,2,3} && {1,2,4} (JointExplicit): a commit needs a majority of each half", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    addLearnerWithSnapshot(c, 1, 4); // index 5
    c.proposeConfChange(1, [removeNode(3), addVoter(4)], ConfChangeTransition.JointExplicit);
    const joint: ConfState = {
      voters: [1, 2, 4],
      votersOutgoing: [1, 2, 3],
      learners: [],
      learnersNext: [],
      autoLeave: false,
    };
    for (const id of [1, 2, 3, 4]) assert.deepEqual(c.confState(id), joint, `conf of ${id}`);
    assert.equal(c.committed(1), 6);
    assert.equal(c.lastIndex(1), 6, "explicit: no automatic leave");

    // 1 reaches 3 and 4: {1,3} is a majority of the outgoing half, {1,4} of the incoming one.
    c.cut(1, 2);
    c.propose(1, "both halves");
    assert.equal(c.committed(1), 7);
    // 1 reaches only 3: index 8 is on a majority of {1,2,3} but not of {1,2,4}.
    c.heal();
    c.cut(1, 2);
    c.cut(1, 4);
    c.propose(1, "outgoing only");
    assert.equal(c.progress(1, 3).match, 8);
    assert.equal(c.committed(1), 7, "the incoming half has no majority");
    // 1 reaches only 4: index 9 is on a majority of {1,2,4} but not of {1,2,3}.
    c.heal();
    c.cut(1, 2);
    c.cut(1, 3);
    c.propose(1, "incoming only");
    assert.equal(c.progress(1, 4).match, 9);
    assert.equal(c.committed(1), 8, "8 is now on both halves; 9 only on the incoming one");
    c.heal();
    c.tickAll(1);
    assert.equal(c.committed(1), 9);

    // The caller leaves the joint config explicitly: 3 is out.
    c.proposeConfChange(1, []);
    for (const id of [1, 2, 4]) {
      assert.deepEqual(c.confState(id), {
        voters: [1, 2, 4],
        votersOutgoing: [],
        learners: [],
        learnersNext: [],
        autoLeave: false,
      });
    }
    c.isolate(3);
    c.propose(1, "without 3");
    assert.equal(c.committed(1), 11);
  });
});

// ---------------------------------------------------------------------------------------------
// 6. A snapshot racing a log append
// ---------------------------------------------------------------------------------------------

describe("6. A snapshot racing a log append", () => {
  it("the lagging follower installs the snapshot; Appends sent before it, arriving after, change nothing", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, "a"); // index 5, everywhere
    // Every Append to 3 is held (in flight for a long time).
    c.setFilter((m) => (m.type === Append && m.to === 3 ? "hold" : "deliver"));
    c.propose(1, "b");
    c.propose(1, "c");
    c.propose(1, "d");
    assert.equal(c.committed(1), 8, "1 and 2 commit b, c, d (indexes 6-8)");
    assert.equal(c.committed(3), 5);
    assert.deepEqual(
      c.held.map((m) => `prev ${m.index}, ${m.entries.length} entries`),
      [
        "prev 5, 1 entries",
        "prev 6, 0 entries",
        "prev 6, 1 entries",
        "prev 7, 0 entries",
        "prev 7, 1 entries",
        "prev 8, 0 entries",
      ],
      "the leader pipelines Appends (and commit updates) to 3",
    );

    // The leader snapshots its state machine at its applied index and compacts its log.
    const leader = c.member(1);
    assert.equal(c.status(1).appliedIndex, 8);
    leader.storage.createSnapshot(8, leader.confState, text("state@8"));
    leader.storage.compact(8);
    assert.equal(leader.storage.firstIndex(), 9);

    // The Appends for prev 6 arrive first: 3 lacks index 6 and rejects; the leader must send
    // entries from 6, which are compacted: it sends its snapshot instead.
    c.setFilter(null);
    const seen: string[] = [];
    c.setFilter((m) => {
      if (m.to === 3 || m.from === 3) seen.push(`${m.from}->${m.to} ${messageType(m)}`);
      return "deliver";
    });
    c.releaseHeld((m) => m.index === 6);
    assert.deepEqual(seen, [
      "1->3 Append",
      "1->3 Append",
      "3->1 AppendResponse(reject)",
      "3->1 AppendResponse(reject)",
      "1->3 InstallSnapshot",
      "3->1 AppendResponse",
      "1->3 Append",
      "3->1 AppendResponse",
    ]);
    const follower = c.member(3);
    assert.equal(follower.storage.snapshot().metadata.index, 8);
    assert.deepEqual(follower.storage.snapshot().data, text("state@8"));
    assert.equal(follower.storage.firstIndex(), 9);
    assert.equal(c.committed(3), 8);
    assert.equal(c.progress(1, 3).match, 8);
    assert.equal(c.progress(1, 3).state, "replicate");

    // New entries reach 3 normally.
    c.propose(1, "e");
    assert.equal(c.committed(3), 9);
    assert.deepEqual(c.logTerms(3), [2]);

    // Now the stale Appends (prev 5, prev 7, ...) arrive: they are answered with 3's commit
    // index and change nothing: no truncation, no commit going back, no progress regression.
    seen.length = 0;
    c.releaseHeld();
    assert.equal(seen.filter((s) => s.endsWith("Append")).length, 4);
    assert.ok(!seen.some((s) => s.includes("reject")), seen.join(", "));
    assert.equal(follower.storage.lastIndex(), 9);
    assert.equal(follower.storage.term(9), 2);
    assert.equal(c.committed(3), 9);
    assert.equal(c.progress(1, 3).match, 9);
    assert.equal(c.progress(1, 3).state, "replicate");

    // Everyone converges.
    c.propose(1, "f");
    for (const id of [1, 2, 3]) {
      assert.equal(c.committed(id), 10, `commit of ${id}`);
      assert.equal(c.member(id).storage.term(10), 2);
      assert.equal(c.status(id).appliedIndex, 10);
    }
    assert.deepEqual(c.appliedData(2), ["a", "b", "c", "d", "e", "f"]);
    assert.deepEqual(c.appliedData(3), ["a", "e", "f"], "b, c, d came in the snapshot");
  });
});

describe("6b. A lost snapshot", () => {
  it("is sent again after two election timeouts without an answer", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, "a");
    c.isolate(3);
    for (let i = 0; i < 5; i++) c.propose(1, `b${i}`); // 6-10
    const leader = c.member(1);
    leader.storage.createSnapshot(10, leader.confState, text("state@10"));
    leader.storage.compact(10);
    c.heal();
    let snapshots = 0;
    let dropNext = true;
    c.setFilter((m) => {
      if (m.type !== MessageType.InstallSnapshot) return "deliver";
      snapshots++;
      const verdict = dropNext ? "drop" : "deliver";
      dropNext = false;
      return verdict;
    });
    c.tickAll(1); // the heartbeat response reveals 3 is behind: snapshot sent (and lost)
    assert.equal(snapshots, 1);
    assert.equal(c.progress(1, 3).state, "snapshot");
    c.tickAll(19);
    assert.equal(snapshots, 1, "the leader waits for the snapshot while it may be in transit");
    assert.equal(c.committed(3), 5);
    c.tickAll(1); // 20 ticks after sending: presumed lost, probe again -> snapshot again
    assert.equal(snapshots, 2);
    assert.equal(c.committed(3), 10);
    assert.equal(c.progress(1, 3).state, "replicate");
    assert.deepEqual(c.member(3).storage.snapshot().data, text("state@10"));
  });
});

function messageType(m: Message): string {
  const name = Object.entries(MessageType).find(([, v]) => v === m.type)?.[0] ?? `${m.type}`;
  return m.reject ? `${name}(reject)` : name;
}

// ---------------------------------------------------------------------------------------------
// Reads: ReadIndex and leases
// ---------------------------------------------------------------------------------------------

describe("ReadIndex (safe reads)", () => {
  it("the leader answers only after a quorum acknowledged a heartbeat sent for the read", () => {
    const c = cluster([1, 2, 3, 4, 5]);
    c.campaign(1);
    c.propose(1, "a"); // index 7
    const heartbeats: string[] = [];
    c.setFilter((m) => {
      if (m.type === Heartbeat) heartbeats.push(`${m.to}:${new TextDecoder().decode(m.context)}`);
      return m.type === HeartbeatResponse ? "hold" : "deliver";
    });
    c.readIndex(1, "r1");
    assert.deepEqual(
      heartbeats,
      ["2:r1", "3:r1", "4:r1", "5:r1"],
      "a heartbeat round tagged with the request",
    );
    assert.deepEqual(c.reads(1), [], "no answer before any acknowledgement");
    c.setFilter(null);
    c.releaseHeld((m) => m.from === 2);
    assert.deepEqual(c.reads(1), [], "the leader and 2: two of five");
    c.releaseHeld((m) => m.from === 3);
    assert.deepEqual(
      c.reads(1),
      ["r1@7"],
      "the leader, 2 and 3 are a quorum: read at commit index 7",
    );
    c.releaseHeld();
    assert.deepEqual(c.reads(1), ["r1@7"], "late acknowledgements change nothing");
  });

  it("a quorum acknowledging a later read's heartbeat also confirms the reads queued before it", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.setFilter((m) => (m.type === HeartbeatResponse ? "hold" : "deliver"));
    c.readIndex(1, "r1");
    c.propose(1, "a");
    c.readIndex(1, "r2");
    c.setFilter(null);
    c.releaseHeld((m) => new TextDecoder().decode(m.context) === "r2" && m.from === 3);
    assert.deepEqual(c.reads(1), ["r1@4", "r2@5"], "each at the commit index when it was asked");
  });

  it("a follower's read is forwarded to the leader and answered to the follower", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, "a");
    c.readIndex(2, "f1");
    assert.deepEqual(c.reads(2), ["f1@5"]);
    assert.deepEqual(c.reads(1), []);
    // With no leader known, the read is not answered (the caller times out and retries).
    const d = cluster([1, 2, 3]);
    d.readIndex(2, "nobody");
    assert.deepEqual(d.reads(2), []);
  });

  it("a new leader defers reads until it has committed an entry of its own term", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, "a"); // index 5, term 2, committed
    // Leadership moves to 2 (term 3) but its no-op (index 6) cannot commit: acks are held.
    c.setFilter((m) => (m.type === AppendResponse && m.to === 2 ? "hold" : "deliver"));
    c.member(1).node.transferLeadership(2);
    c.settle();
    assert.equal(c.leader(), 2);
    assert.equal(c.term(2), 3);
    assert.equal(c.committed(2), 5, "2 knows index 5 is committed, not whether more is");
    let readHeartbeats = 0;
    c.setFilter((m) => {
      if (m.type === Heartbeat && m.context.length > 0) readHeartbeats++;
      return m.type === AppendResponse && m.to === 2 ? "hold" : "deliver";
    });
    c.readIndex(2, "r");
    c.tick(2); // a heartbeat round completes, but the read is not part of it
    assert.deepEqual(c.reads(2), [], "answering at index 5 could miss a write committed by 1");
    assert.equal(readHeartbeats, 0, "no heartbeat round for the read yet");
    // The no-op commits: now the read gets its heartbeat round and index 6.
    c.setFilter(null);
    c.releaseHeld();
    assert.equal(c.committed(2), 6);
    assert.deepEqual(c.reads(2), ["r@6"]);
  });
});

describe("Lease reads (leaseReads: true)", () => {
  it("answer without a heartbeat round while the lease holds, and fall back once the leader was cut off", () => {
    const c = cluster([1, 2, 3], { leaseReads: true });
    c.campaign(1); // the leader's clock is at tick 0
    c.propose(1, "a");
    c.tick(1); // tick 1: a heartbeat acknowledged by both: the lease runs to tick 1 + 10 - 1
    const heartbeats = counter(c, (m) => m.type === Heartbeat);
    c.readIndex(1, "L1", true);
    assert.deepEqual(c.reads(1), ["L1@5"]);
    assert.equal(heartbeats.count, 0, "no heartbeat round");

    // A follower's lease read is answered by the leader from its lease too.
    c.readIndex(2, "F1", true);
    assert.deepEqual(c.reads(2), ["F1@5"]);
    assert.equal(heartbeats.count, 0);

    // The leader is cut off (its messages are counted, then dropped).
    let heartbeatsWhileCut = 0;
    c.setFilter((m) => {
      if (m.from === 1 && m.type === Heartbeat) heartbeatsWhileCut++;
      return m.from === 1 || m.to === 1 ? "drop" : "deliver";
    });
    c.tick(1, 8); // tick 9: still within the lease
    heartbeatsWhileCut = 0;
    c.readIndex(1, "L2", true);
    assert.deepEqual(c.reads(1), ["L1@5", "L2@5"]);
    assert.equal(heartbeatsWhileCut, 0);

    c.tick(1); // tick 10: the lease has run out; the leader has not stepped down yet
    assert.equal(c.role(1), "leader");
    heartbeatsWhileCut = 0;
    c.readIndex(1, "L3", true);
    assert.deepEqual(c.reads(1), ["L1@5", "L2@5"], "no answer from an expired lease");
    assert.equal(heartbeatsWhileCut, 2, "a heartbeat round instead (lost, here)");

    // Reconnected, the next heartbeat round confirms the read (and renews the lease).
    c.setFilter(null);
    c.tick(1);
    assert.deepEqual(c.reads(1), ["L1@5", "L2@5", "L3@5"]);
    c.readIndex(1, "L4", true);
    assert.deepEqual(c.reads(1).at(-1), "L4@5");
  });

  it("a new leader has no lease until a heartbeat round is acknowledged", () => {
    const c = cluster([1, 2, 3], { leaseReads: true });
    c.campaign(1);
    c.propose(1, "a");
    c.setFilter((m) => (m.type === HeartbeatResponse ? "hold" : "deliver"));
    c.readIndex(1, "L", true);
    assert.deepEqual(c.reads(1), []);
    assert.equal(c.held.length, 2, "it ran a heartbeat round instead");
    c.setFilter(null);
    c.releaseHeld();
    assert.deepEqual(c.reads(1), ["L@5"]);
  });

  it("without leaseReads, a lease read is a safe read (heartbeat round)", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.tick(1);
    const heartbeats = counter(c, (m) => m.type === Heartbeat);
    c.readIndex(1, "L", true);
    assert.equal(heartbeats.count, 2);
    assert.deepEqual(c.reads(1), ["L@4"]);
  });
});

describe("Lease safety: leases rely on CheckQuorum", () => {
  /** 1 leads; the link 1-3 breaks, 2 still hears from 1; 3's election timer runs out. */
  function partialPartition(checkQuorum: boolean): CheckedCluster {
    const c = cluster([1, 2, 3], {
      leaseReads: true,
      preVote: false,
      checkQuorum,
      testingKnobs: { leaseReadsWithoutCheckQuorum: !checkQuorum },
    });
    c.campaign(1);
    c.propose(1, "a"); // index 5
    c.tickAll(1);
    c.cut(1, 3);
    for (let tick = 0; tick < 40 && c.role(3) !== "leader"; tick++) c.tickAll(1);
    return c;
  }

  it("with CheckQuorum, a member that hears the leader refuses to elect another: the lease holds", () => {
    const c = partialPartition(true);
    assert.notEqual(c.role(3), "leader");
    assert.ok(c.term(3) > 2, "3 campaigned");
    assert.equal(c.term(2), 2, "2 ignored its vote requests (it heard from 1 within the timeout)");
    assert.equal(c.leader(), 1);
    c.readIndex(1, "L", true);
    assert.deepEqual(c.reads(1), ["L@5"]);
  });

  it("without CheckQuorum (knob), 2 elects 3 while 1's lease still runs: 1 serves a stale read", () => {
    const c = partialPartition(false);
    assert.equal(c.role(3), "leader");
    assert.equal(c.term(3), 3);
    assert.equal(c.role(1), "leader", "1 does not know: 2 ignores its stale heartbeats");
    c.propose(3, "new"); // index 7, after 3's no-op at 6
    assert.equal(c.committed(3), 7);
    c.readIndex(1, "stale", true);
    assert.deepEqual(
      c.reads(1),
      ["stale@5"],
      "a linearizability violation: 'new' is committed at 7",
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Leadership transfer
// ---------------------------------------------------------------------------------------------

describe("Leadership transfer", () => {
  it("to an up-to-date follower: it campaigns at once (TimeoutNow) and wins the next term", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, "a");
    const timeoutNow = counter(c, (m) => m.type === MessageType.TimeoutNow);
    c.member(1).node.transferLeadership(2);
    c.settle();
    assert.equal(timeoutNow.count, 1);
    assert.equal(c.leader(), 2);
    assert.equal(c.term(2), 3);
    assert.equal(c.role(1), "follower");
    assert.equal(c.status(1).softState.leader, 2);
    c.propose(2, "b");
    for (const id of [1, 2, 3]) assert.deepEqual(c.appliedData(id), ["a", "b"]);
  });

  it("to a lagging follower: the leader first catches it up, refusing proposals meanwhile", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.setFilter((m) => (m.type === Append && m.to === 3 ? "hold" : "deliver"));
    c.propose(1, "a");
    c.propose(1, "b");
    assert.equal(c.committed(1), 6);
    assert.equal(c.lastIndex(3), 4);
    c.member(1).node.transferLeadership(3);
    c.settle();
    assert.equal(c.status(1).leadTransferee, 3);
    assert.equal(c.role(1), "leader", "3 is behind: no TimeoutNow yet");
    assert.throws(() => c.propose(1, "x"), ProposalDroppedError);
    c.setFilter(null);
    c.releaseHeld();
    assert.equal(c.leader(), 3);
    assert.equal(c.term(3), 3);
    for (const id of [1, 2, 3]) assert.deepEqual(c.logTerms(id), [...BOOT3, 2, 2, 2, 3]);
    c.propose(3, "c");
    for (const id of [1, 2, 3]) assert.deepEqual(c.appliedData(id), ["a", "b", "c"]);
  });

  it("is abandoned after an election timeout if the transferee never catches up", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    c.propose(1, "a");
    c.member(1).node.transferLeadership(3);
    c.settle();
    assert.equal(c.status(1).leadTransferee, 3);
    c.tick(1, 9);
    assert.equal(c.status(1).leadTransferee, 3);
    assert.throws(() => c.propose(1, "x"), ProposalDroppedError);
    c.tick(1);
    assert.equal(c.status(1).leadTransferee, 0);
    assert.equal(c.role(1), "leader");
    assert.equal(c.term(1), 2);
    c.propose(1, "b");
    assert.deepEqual(c.appliedData(2), ["a", "b"]);
  });
});

// ---------------------------------------------------------------------------------------------
// PreVote and CheckQuorum
// ---------------------------------------------------------------------------------------------

describe("PreVote", () => {
  function partitionAndRejoin(preVote: boolean): CheckedCluster {
    const c = cluster([1, 2, 3], { preVote });
    c.campaign(1);
    c.propose(1, "a");
    c.isolate(3);
    c.tickAll(100);
    return c;
  }

  it("a partitioned member does not raise its term, and rejoins without disrupting the leader", () => {
    const c = partitionAndRejoin(true);
    assert.equal(c.term(3), 2, "its pre-elections fail, its term stays");
    assert.equal(c.leader(), 1);
    c.heal();
    c.tickAll(1);
    for (const id of [1, 2, 3]) assert.equal(c.term(id), 2);
    assert.equal(c.leader(), 1);
    assert.equal(c.role(3), "follower");
    c.propose(1, "b");
    assert.deepEqual(c.appliedData(3), ["a", "b"]);
  });

  it("without PreVote, the same script disrupts the cluster (the test above can fail)", () => {
    const c = partitionAndRejoin(false);
    assert.ok(c.term(3) > 5, `term of 3 grew to ${c.term(3)}`);
    c.heal();
    c.tickAll(1);
    assert.ok(c.term(1) > 2, "the leader saw the higher term and stepped down");
    assert.notEqual(c.role(1), "leader");
  });
});

describe("CheckQuorum", () => {
  it("a leader that hears from a quorum keeps leading; cut off, it steps down", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.tickAll(100);
    assert.equal(c.leader(), 1);
    assert.equal(c.term(1), 2);
    c.isolate(1);
    // Quorum checks at its ticks 100 (just passed), 110 (passes: the acks of tick 100's
    // heartbeats came after the check at 100) and 120: it steps down 20 ticks after the cut.
    const ticks = ticksUntil(c, [1], () => c.role(1) !== "leader");
    assert.equal(ticks, 20);
    assert.equal(c.role(1), "follower");
    assert.equal(c.term(1), 2, "stepping down does not change the term");
    assert.equal(c.status(1).softState.leader, 0);
  });

  it("followers that heard from the leader within an election timeout ignore a disruptive campaign", () => {
    const c = cluster([1, 2, 3], { preVote: false });
    c.campaign(1);
    c.tickAll(3);
    // 3 campaigns (say its clock ran fast): 1 and 2 heard from leader 1 recently.
    c.campaign(3);
    assert.equal(c.term(3), 3);
    assert.equal(c.term(1), 2, "the vote request is ignored, its term not adopted");
    assert.equal(c.term(2), 2);
    assert.equal(c.leader(), 1);
  });
});

// ---------------------------------------------------------------------------------------------
// Replication: fast backtracking and flow control
// ---------------------------------------------------------------------------------------------

describe("Fast backtracking", () => {
  it("a follower with a long divergent log is fixed with one rejected Append", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, "x"); // index 5, committed everywhere
    // The old leader, cut off, appends 50 entries of term 2 (indexes 6-55).
    c.isolate(1);
    for (let i = 0; i < 50; i++) c.propose(1, `old-${i}`);
    // 2 and 3 elect a leader of term 3, which commits 61 entries (6-66)...
    ticksUntil(c, [2, 3], () => c.role(2) === "leader" || c.role(3) === "leader");
    const [first, second] = c.role(2) === "leader" ? [2, 3] : [3, 2];
    assert.equal(c.term(first), 3);
    for (let i = 0; i < 60; i++) c.propose(first, `new-${i}`);
    // ...and hands over to the other (term 4, no-op at 67): its probe of 1 starts at 67.
    c.member(first).node.transferLeadership(second);
    c.settle();
    assert.equal(c.leader(), second);
    assert.equal(c.term(second), 4);
    assert.equal(c.lastIndex(second), 67);
    assert.equal(c.lastIndex(1), 55);

    let rejections = 0;
    let appends = 0;
    c.setFilter((m) => {
      if (m.type === AppendResponse && m.from === 1 && m.reject) rejections++;
      if (m.type === Append && m.to === 1) appends++;
      return "deliver";
    });
    c.heal();
    c.tick(second);
    // 1 rejects the probe at 66 hinting (55, term 2); the leader skips all of term 3 at once.
    assert.equal(rejections, 1, "one-index-at-a-time backtracking would need 61");
    assert.ok(appends <= 3, `${appends} Appends`);
    assert.deepEqual(c.logTerms(1), c.logTerms(second));
    assert.equal(c.committed(1), 67);
    assert.ok(!c.appliedData(1).some((d) => d.startsWith("old-")));
    assert.equal(c.appliedData(1).length, 61);
  });
});

describe("Flow control (maxInflightMessages: 2)", () => {
  it("with acknowledgements held, the leader has at most 2 Appends with entries in flight to a follower", () => {
    const c = cluster([1, 2, 3], { maxInflightMessages: 2 });
    c.campaign(1);
    c.propose(1, "a"); // index 5; 2 is in replicate state
    const sent: number[][] = [];
    c.setFilter((m) => {
      if (m.type === Append && m.to === 2 && m.entries.length > 0)
        sent.push(m.entries.map((e) => e.index));
      return m.type === AppendResponse && m.from === 2 ? "hold" : "deliver";
    });
    for (let i = 0; i < 5; i++) c.propose(1, `p${i}`);
    assert.deepEqual(sent, [[6], [7]], "indexes 8-10 wait for the window");
    assert.equal(c.committed(1), 10, "3 acknowledges: the window of 2 does not slow the quorum");
    assert.equal(c.progress(1, 2).match, 5);
    // The acknowledgements arrive: the window opens and the rest follows.
    c.setFilter((m) => {
      if (m.type === Append && m.to === 2 && m.entries.length > 0)
        sent.push(m.entries.map((e) => e.index));
      return "deliver";
    });
    c.releaseHeld();
    assert.deepEqual(sent.flat(), [6, 7, 8, 9, 10]);
    assert.equal(c.committed(2), 10);
    assert.equal(c.progress(1, 2).match, 10);
  });

  it("a heartbeat response while the window is full sends at most an empty Append (no more entries)", () => {
    const c = cluster([1, 2, 3], { maxInflightMessages: 2 });
    c.campaign(1);
    c.propose(1, "a");
    const sent: number[][] = [];
    c.setFilter((m) => {
      if (m.type === Append && m.to === 2 && m.entries.length > 0)
        sent.push(m.entries.map((e) => e.index));
      return m.type === AppendResponse && m.from === 2 ? "hold" : "deliver";
    });
    for (let i = 0; i < 5; i++) c.propose(1, `p${i}`);
    c.tick(1); // heartbeat round: 2 answers (its AppendResponses are still held)
    assert.deepEqual(sent, [[6], [7]]);
    c.setFilter(null);
    c.releaseHeld();
    c.tick(1);
    assert.equal(c.committed(2), 10);
  });

  it("a follower whose whole window of Appends was lost recovers through heartbeats", () => {
    const c = cluster([1, 2, 3], { maxInflightMessages: 2 });
    c.campaign(1);
    c.propose(1, "a");
    c.setFilter((m) => (m.type === Append && m.to === 2 ? "drop" : "deliver"));
    for (let i = 0; i < 5; i++) c.propose(1, `p${i}`);
    assert.equal(c.committed(2), 5);
    c.setFilter(null);
    c.tick(1, 3);
    assert.equal(c.committed(2), 10);
    assert.equal(c.progress(1, 2).match, 10);
  });
});

// ---------------------------------------------------------------------------------------------
// Proposals refused
// ---------------------------------------------------------------------------------------------

describe("Dropped proposals (ProposalDroppedError)", () => {
  it("with no leader known", () => {
    const c = cluster([1, 2, 3]);
    assert.throws(() => c.propose(1, "x"), ProposalDroppedError);
    assert.equal(c.lastIndex(1), 3, "the bootstrap entries only");
  });

  it("on a candidate, during an election", () => {
    const c = cluster([1, 2, 3], { preVote: false });
    c.isolate(1);
    c.campaign(1);
    assert.equal(c.role(1), "candidate");
    assert.throws(() => c.propose(1, "x"), ProposalDroppedError);
  });

  it("on a follower with proposal forwarding disabled; forwarded otherwise", () => {
    const c = cluster([1, 2, 3], { disableProposalForwarding: true });
    c.campaign(1);
    assert.throws(() => c.propose(2, "x"), ProposalDroppedError);
    const d = cluster([1, 2, 3]);
    d.campaign(1);
    d.propose(2, "y");
    assert.deepEqual(d.appliedData(1), ["y"]);
  });

  it("during a leadership transfer", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(2);
    c.member(1).node.transferLeadership(2);
    assert.throws(() => c.propose(1, "x"), ProposalDroppedError);
    assert.equal(c.lastIndex(1), 4);
  });

  it("over maxUncommittedEntriesBytes, until entries commit", () => {
    const c = cluster([1, 2, 3], { maxUncommittedEntriesBytes: 100 });
    c.campaign(1);
    c.isolate(1);
    const payload = "x".repeat(40);
    c.propose(1, payload); // 40 uncommitted bytes
    c.propose(1, payload); // 80
    assert.throws(() => c.propose(1, payload), ProposalDroppedError, "120 > 100");
    assert.equal(c.lastIndex(1), 6);
    c.heal();
    c.tickAll(1);
    assert.equal(c.committed(1), 6);
    c.propose(1, payload); // accepted again once the others committed
    c.propose(1, payload);
    assert.equal(c.committed(1), 8);
    // A single proposal larger than the limit is accepted when nothing is uncommitted.
    c.propose(1, "y".repeat(500));
    assert.equal(c.committed(1), 9);
  });
});

describe("Conf changes refused", () => {
  it("a second conf change while one is pending (appended, not applied)", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(1); // the first change cannot commit
    c.proposeConfChange(1, [addLearner(4)]);
    assert.equal(c.lastIndex(1), 5);
    assert.throws(() => c.proposeConfChange(1, [addLearner(5)]), ProposalDroppedError);
    assert.equal(c.lastIndex(1), 5);
    // Normal proposals are still accepted.
    c.propose(1, "a");
    c.heal();
    c.tickAll(1);
    assert.deepEqual(c.confState(1).learners, [4]);
    // Once applied, the next one is accepted.
    c.proposeConfChange(1, [addLearner(5)]);
    assert.deepEqual(c.confState(1).learners, [4, 5]);
  });

  it("a change other than leaving while the config is joint", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.proposeConfChange(1, [addLearner(4), addLearner(5)], ConfChangeTransition.JointExplicit);
    assert.deepEqual(c.confState(1).votersOutgoing, [1, 2, 3]);
    assert.throws(() => c.proposeConfChange(1, [addLearner(6)]), ProposalDroppedError);
    c.proposeConfChange(1, []); // leave
    assert.deepEqual(c.confState(1).votersOutgoing, []);
    assert.deepEqual(c.confState(1).learners, [4, 5]);
    assert.throws(() => c.proposeConfChange(1, []), ProposalDroppedError, "nothing to leave");
  });

  it("a member does not campaign while a committed conf change is not applied yet", () => {
    const c = cluster([1, 2, 3], { preVote: false, checkQuorum: false });
    c.campaign(1);
    c.setFilter((m) => (m.to === 3 && m.type === Append ? "hold" : "deliver"));
    c.proposeConfChange(1, [addLearner(4)]); // index 5, committed by 1 and 2
    c.setFilter(null);
    // 3 receives the entry and its commit, but its Ready is not yet handled (not applied).
    const node3 = c.member(3).node;
    for (const m of c.held) node3.step(m);
    c.held = [];
    assert.equal(node3.status().commitIndex, 5);
    assert.equal(node3.status().appliedIndex, 4);
    node3.campaign();
    assert.equal(
      node3.status().softState.role,
      "follower",
      "its outcome could change who may campaign",
    );
    assert.equal(node3.status().hardState.term, 2);
    c.settle(); // applied now
    assert.deepEqual(c.confState(3).learners, [4]);
    c.campaign(3);
    assert.equal(c.role(3), "leader");
    assert.equal(c.term(3), 3);
  });

  it("a refused conf change forwarded by a follower becomes an empty entry", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(1);
    c.proposeConfChange(1, [addLearner(4)]);
    c.heal();
    // The first is not applied yet when 2's arrives at the leader.
    c.cut(1, 3);
    c.cut(2, 3);
    c.proposeConfChange(2, [addLearner(5)]);
    c.heal();
    c.tickAll(1);
    const entries = c.member(1).applied.slice(4); // after the bootstrap entries and the no-op
    assert.deepEqual(
      entries.map(
        (e) => `${e.index}:${e.type === EntryType.ConfChange ? "conf" : "normal"}:${e.data.length}`,
      ),
      [`5:conf:${entries[0]!.data.length}`, "6:normal:0"],
    );
    assert.deepEqual(c.confState(1).learners, [4]);
  });
});

// ---------------------------------------------------------------------------------------------
// Crash and restart
// ---------------------------------------------------------------------------------------------

describe("Crash and restart", () => {
  it("a restarted member keeps its term, vote and log, replays its committed entries and catches up", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, "a");
    c.propose(1, "b");
    const before = { term: c.term(2), vote: c.status(2).hardState.vote, log: c.logTerms(2) };
    assert.deepEqual(before, { term: 2, vote: 1, log: [...BOOT3, 2, 2, 2] });
    c.crash(2);
    c.propose(1, "c");
    c.restart(2);
    assert.deepEqual(
      { term: c.term(2), vote: c.status(2).hardState.vote, log: c.logTerms(2) },
      before,
    );
    assert.deepEqual(c.appliedData(2), ["a", "b"], "replayed from the log (no snapshot)");
    c.tickAll(1);
    assert.deepEqual(c.appliedData(2), ["a", "b", "c"]);
    assert.equal(c.leader(), 1);
  });

  it("with CheckQuorum, a restarted member refuses votes for an election timeout (it may have promised a lease)", () => {
    const c = cluster([1, 2, 3]);
    c.campaign(1);
    c.tickAll(1);
    c.crash(1);
    c.crash(2);
    c.restart(2);
    c.campaign(3);
    assert.equal(c.role(3), "pre-candidate", "2 ignores the pre-vote request");
    assert.equal(c.term(2), 2);
    c.tick(2, 9);
    c.campaign(3);
    assert.equal(c.role(3), "pre-candidate", "still within the election timeout after the restart");
    c.tick(2);
    c.campaign(3);
    assert.equal(c.role(3), "leader");
    assert.equal(c.term(3), 3);
  });
});
