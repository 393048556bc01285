// The Raft paper (Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm"),
// section by section, as tests of the core (after etcd's raft/paper_test.go). Most tests drive
// one RawNode by hand, message by message; a few use the in-memory cluster.
//
// These tests run the paper's Raft: no PreVote, no CheckQuorum (both are later additions,
// tested in scenarios.test.ts). A member's log starts with the bootstrap entries of its
// cluster (one conf change per member, term 1, committed), so the first election is for term 2.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeConfChange } from "./confchange/index.ts";
import type { RaftConfig } from "./config.ts";
import { message } from "./raft.ts";
import { SeededRandom } from "./random.ts";
import { RawNode } from "./rawnode.ts";
import { MemoryStorage } from "./storage.ts";
import { TestCluster } from "./test_cluster.ts";
import {
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  type NodeId,
  type Role,
} from "./types.ts";

const { Append, AppendResponse, Heartbeat, RequestVote, RequestVoteResponse } = MessageType;
const EMPTY = new Uint8Array(0);
const PAPER: Partial<RaftConfig> = { checkQuorum: false, preVote: false };

// ---------------------------------------------------------------------------------------------
// A hand-driven member
// ---------------------------------------------------------------------------------------------

class Member {
  readonly node: RawNode;
  readonly storage: MemoryStorage;
  readonly applied: Entry[] = [];
  /** Everything the member sent since the last take(). */
  private outbox: Message[] = [];

  /**
   * Member `id` of a cluster of `voters`. Its log holds the bootstrap entries followed by
   * entries of `terms` (from index voters.length + 1); its hard state is overridden by `hard`.
   */
  constructor(
    readonly id: NodeId,
    voters: NodeId[],
    options: {
      terms?: number[];
      hard?: Partial<HardState>;
      config?: Partial<RaftConfig>;
      seed?: number;
    } = {},
  ) {
    this.storage = new MemoryStorage({ voters });
    const terms = options.terms ?? [];
    this.storage.append(
      terms.map((term, i) => ({
        term,
        index: voters.length + 1 + i,
        type: EntryType.Normal,
        data: EMPTY,
      })),
    );
    this.storage.setHardState({ ...this.storage.initialState().hardState, ...options.hard });
    this.node = new RawNode({
      id,
      storage: this.storage,
      random: new SeededRandom(options.seed ?? id),
      ...PAPER,
      ...options.config,
    });
    this.drain(); // applies the bootstrap conf changes: the member learns its cluster
    this.outbox = [];
  }

  /** Runs the Ready loop until there is nothing more: persist, collect messages, apply. */
  drain(): void {
    while (this.node.hasReady()) {
      const ready = this.node.ready();
      if (ready.snapshot !== null) this.storage.applySnapshot(ready.snapshot);
      this.storage.append(ready.entries);
      if (ready.hardState !== null) this.storage.setHardState(ready.hardState);
      this.outbox.push(...ready.messages, ...ready.messagesAfterPersist);
      for (const entry of ready.committedEntries) {
        this.applied.push(entry);
        if (entry.type === EntryType.ConfChange)
          this.node.applyConfChange(decodeConfChange(entry.data));
      }
      this.node.advance();
    }
  }

  /** Steps a message from a peer (fields not given are zero), then runs the Ready loop. */
  receive(fields: Partial<Message> & Pick<Message, "type" | "from">): void {
    this.node.step(message({ to: this.id, ...fields }));
    this.drain();
  }

  tick(ticks = 1): void {
    for (let i = 0; i < ticks; i++) this.node.tick();
    this.drain();
  }

  /** The messages sent since the last take(), and forget them. */
  take(): Message[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  get term(): number {
    return this.node.status().hardState.term;
  }

  get vote(): NodeId {
    return this.node.status().hardState.vote;
  }

  get role(): Role {
    return this.node.status().softState.role;
  }

  get leader(): NodeId {
    return this.node.status().softState.leader;
  }

  get committed(): number {
    return this.node.status().commitIndex;
  }

  get lastIndex(): number {
    return this.node.status().lastIndex;
  }

  /** The terms of the whole log, from index 1. */
  logTerms(): number[] {
    const terms: number[] = [];
    for (let i = this.storage.firstIndex(); i <= this.storage.lastIndex(); i++)
      terms.push(this.storage.term(i));
    return terms;
  }

  /** Campaigns and collects the votes of `grantedBy`: a leader if they are enough. */
  campaignWith(grantedBy: NodeId[]): void {
    this.node.campaign();
    this.drain();
    const term = this.term;
    this.take();
    for (const from of grantedBy) this.receive({ type: RequestVoteResponse, from, term });
  }
}

/** A leader of `voters` for term 2 (its no-op at voters.length + 1), messages taken. */
function leaderOf(voters: NodeId[], config: Partial<RaftConfig> = {}): Member {
  const leader = new Member(1, voters, { config });
  leader.campaignWith(voters.filter((id) => id !== 1));
  assert.equal(leader.role, "leader");
  assert.equal(leader.term, 2);
  leader.take();
  return leader;
}

const brief = (m: Message) =>
  `${Object.entries(MessageType).find(([, v]) => v === m.type)?.[0]} ${m.from}->${m.to} term ${m.term}`;

// ---------------------------------------------------------------------------------------------
// §5.1 Raft basics: terms
// ---------------------------------------------------------------------------------------------

describe("§5.1 Terms", () => {
  describe("a member seeing a higher term adopts it; a candidate or leader reverts to follower", () => {
    const setups: Array<{ role: Role; make: () => Member }> = [
      { role: "follower", make: () => new Member(1, [1, 2, 3], { hard: { term: 2 } }) },
      {
        role: "candidate",
        make: () => {
          const m = new Member(1, [1, 2, 3]);
          m.node.campaign();
          m.drain();
          return m;
        },
      },
      { role: "leader", make: () => leaderOf([1, 2, 3]) },
    ];
    for (const { role, make } of setups) {
      it(`a ${role} receiving an Append of term 5`, () => {
        const m = make();
        assert.equal(m.role, role);
        assert.equal(m.term, 2);
        m.receive({ type: Append, from: 2, term: 5, index: m.lastIndex, logTerm: 0 });
        assert.equal(m.term, 5);
        assert.equal(m.role, "follower");
        assert.equal(m.leader, 2, "an Append names the leader of that term");
        assert.equal(m.vote, 0, "a new term starts without a vote");
      });
      it(`a ${role} receiving a RequestVote of term 5`, () => {
        const m = make();
        m.receive({ type: RequestVote, from: 3, term: 5, index: 100, logTerm: 100 });
        assert.equal(m.term, 5);
        assert.equal(m.role, "follower");
        assert.equal(m.leader, 0);
        assert.equal(m.vote, 3, "and, the candidate's log being up to date, votes for it");
      });
    }
  });

  it("a stale-term Append is rejected: the log is unchanged, the sender learns the current term", () => {
    // With CheckQuorum or PreVote the stale leader is told our term (so it steps down).
    const m = new Member(1, [1, 2, 3], { hard: { term: 4 }, config: { checkQuorum: true } });
    const before = m.logTerms();
    m.receive({
      type: Append,
      from: 2,
      term: 3,
      index: 3,
      logTerm: 1,
      entries: [{ term: 3, index: 4, type: EntryType.Normal, data: EMPTY }],
      commit: 4,
    });
    assert.deepEqual(m.logTerms(), before);
    assert.equal(m.committed, 3);
    assert.equal(m.term, 4);
    assert.equal(m.leader, 0, "a stale leader is not followed");
    const out = m.take();
    assert.deepEqual(out.map(brief), ["AppendResponse 1->2 term 4"]);
  });

  it("without CheckQuorum and PreVote, a stale-term Append is ignored silently (as in the paper)", () => {
    const m = new Member(1, [1, 2, 3], { hard: { term: 4 } });
    m.receive({ type: Append, from: 2, term: 3, index: 3, logTerm: 1, entries: [] });
    assert.deepEqual(m.take(), []);
    assert.equal(m.term, 4);
  });

  it("a stale-term RequestVote is not granted and does not change the term", () => {
    const m = new Member(1, [1, 2, 3], { hard: { term: 4 } });
    m.receive({ type: RequestVote, from: 2, term: 3, index: 100, logTerm: 100 });
    assert.equal(m.vote, 0);
    assert.equal(m.term, 4);
    assert.ok(!m.take().some((x) => x.type === RequestVoteResponse && !x.reject));
  });

  it("a leader ignores vote responses and acks of an older term", () => {
    const m = leaderOf([1, 2, 3]);
    m.receive({ type: AppendResponse, from: 2, term: 1, index: 4 });
    assert.equal(m.committed, 3, "an ack from term 1 does not count for term 2's no-op");
    m.receive({ type: AppendResponse, from: 2, term: 2, index: 4 });
    assert.equal(m.committed, 4);
  });
});

// ---------------------------------------------------------------------------------------------
// §5.2 Leader election
// ---------------------------------------------------------------------------------------------

describe("§5.2 Leader election", () => {
  it("a follower that hears nothing for an election timeout starts an election", () => {
    const m = new Member(1, [1, 2, 3]);
    assert.equal(m.term, 1);
    m.tick(2 * 10); // the randomized timeout is in [10, 20)
    assert.equal(m.role, "candidate");
    assert.equal(m.term, 2, "it increments its term");
    assert.equal(m.vote, 1, "and votes for itself");
    const requests = m.take().filter((x) => x.type === RequestVote);
    assert.deepEqual(
      requests.map((x) => ({ to: x.to, term: x.term, index: x.index, logTerm: x.logTerm })),
      [
        { to: 2, term: 2, index: 3, logTerm: 1 },
        { to: 3, term: 2, index: 3, logTerm: 1 },
      ],
      "RequestVote to every other member, with its last index and term",
    );
  });

  it("a candidate whose election times out starts a new one in the next term", () => {
    const m = new Member(1, [1, 2, 3]);
    m.node.campaign();
    m.drain();
    assert.equal(m.term, 2);
    m.take();
    m.tick(2 * 10);
    assert.equal(m.role, "candidate");
    assert.equal(m.term, 3);
    assert.equal(m.take().filter((x) => x.type === RequestVote && x.term === 3).length, 2);
  });

  it("the election timeout is randomized in [T, 2T), and differs across members", () => {
    const timeouts: number[] = [];
    for (let seed = 1; seed <= 30; seed++) {
      const m = new Member(1, [1, 2, 3], { seed });
      let ticks = 0;
      while (m.role === "follower") {
        m.tick();
        ticks++;
        assert.ok(ticks < 20, `seed ${seed}: no election after ${ticks} ticks`);
      }
      timeouts.push(ticks);
    }
    for (const t of timeouts) assert.ok(t >= 10 && t < 20, `timeout ${t}`);
    assert.ok(
      new Set(timeouts).size >= 6,
      `only ${new Set(timeouts).size} distinct timeouts: ${timeouts}`,
    );

    // The members of one cluster draw different timeouts (each its own seeded source).
    const c = new TestCluster([1, 2, 3, 4, 5], { config: PAPER });
    c.isolate(1);
    c.isolate(2);
    c.isolate(3);
    c.isolate(4);
    c.isolate(5);
    const firstCampaign = new Map<NodeId, number>();
    for (let tick = 1; tick < 20; tick++) {
      c.tickAll();
      for (const id of [1, 2, 3, 4, 5]) {
        if (!firstCampaign.has(id) && c.role(id) === "candidate") firstCampaign.set(id, tick);
      }
    }
    assert.equal(firstCampaign.size, 5);
    assert.ok(new Set(firstCampaign.values()).size >= 3, `timeouts ${[...firstCampaign.values()]}`);
  });

  describe("a candidate wins with votes from a majority, loses with refusals from one", () => {
    const cases: Array<{ size: number; votes: Array<[NodeId, boolean]>; want: Role }> = [
      { size: 1, votes: [], want: "leader" },
      {
        size: 3,
        votes: [
          [2, true],
          [3, true],
        ],
        want: "leader",
      },
      { size: 3, votes: [[2, true]], want: "leader" },
      {
        size: 5,
        votes: [
          [2, true],
          [3, true],
          [4, true],
          [5, true],
        ],
        want: "leader",
      },
      {
        size: 5,
        votes: [
          [2, true],
          [3, true],
          [4, true],
        ],
        want: "leader",
      },
      {
        size: 5,
        votes: [
          [2, true],
          [3, true],
        ],
        want: "leader",
      },
      // A majority refuses: back to follower.
      {
        size: 3,
        votes: [
          [2, false],
          [3, false],
        ],
        want: "follower",
      },
      {
        size: 5,
        votes: [
          [2, false],
          [3, false],
          [4, false],
          [5, false],
        ],
        want: "follower",
      },
      {
        size: 5,
        votes: [
          [2, true],
          [3, false],
          [4, false],
          [5, false],
        ],
        want: "follower",
      },
      // Undecided: stays candidate.
      { size: 3, votes: [], want: "candidate" },
      { size: 5, votes: [[2, true]], want: "candidate" },
      {
        size: 5,
        votes: [
          [2, false],
          [3, false],
        ],
        want: "candidate",
      },
      { size: 5, votes: [], want: "candidate" },
    ];
    for (const { size, votes, want } of cases) {
      const label =
        votes.map(([id, yes]) => `${id}:${yes ? "yes" : "no"}`).join(" ") || "no answers";
      it(`${size} members, ${label} -> ${want}`, () => {
        const voters = Array.from({ length: size }, (_, i) => i + 1);
        const m = new Member(1, voters);
        m.node.campaign();
        m.drain();
        for (const [from, granted] of votes) {
          m.receive({ type: RequestVoteResponse, from, term: 2, reject: !granted });
        }
        assert.equal(m.role, want);
        assert.equal(m.term, 2);
      });
    }
  });

  it("the candidate counts its own vote only once it is durable (Ready persisted)", () => {
    const m = new Member(1, [1]);
    m.node.campaign();
    assert.equal(
      m.node.status().softState.role,
      "candidate",
      "not yet leader: the vote is not persisted",
    );
    m.drain();
    assert.equal(m.role, "leader");
  });

  describe("a member votes at most once per term, first come first served", () => {
    const cases: Array<{ votedFor: NodeId; candidate: NodeId; granted: boolean }> = [
      { votedFor: 0, candidate: 2, granted: true },
      { votedFor: 0, candidate: 3, granted: true },
      { votedFor: 2, candidate: 2, granted: true }, // a repeated request is answered again
      { votedFor: 3, candidate: 3, granted: true },
      { votedFor: 2, candidate: 3, granted: false },
      { votedFor: 3, candidate: 2, granted: false },
    ];
    for (const { votedFor, candidate, granted } of cases) {
      it(`voted for ${votedFor || "nobody"} in term 2, asked by ${candidate}: ${granted ? "grant" : "refuse"}`, () => {
        const m = new Member(1, [1, 2, 3], { hard: { term: 2, vote: votedFor } });
        m.receive({ type: RequestVote, from: candidate, term: 2, index: 3, logTerm: 1 });
        const [response, ...rest] = m.take();
        assert.equal(rest.length, 0);
        assert.equal(response?.type, RequestVoteResponse);
        assert.equal(response?.to, candidate);
        assert.equal(response?.reject, !granted);
        assert.equal(m.vote, granted ? candidate : votedFor);
        assert.equal(
          m.storage.initialState().hardState.vote,
          m.vote,
          "the vote is durable before it is sent",
        );
      });
    }
  });

  it("a vote leaves only once the term and vote are durable (in the same Ready's hard state)", () => {
    const m = new Member(1, [1, 2, 3]);
    m.node.step(message({ type: RequestVote, to: 1, from: 2, term: 2, index: 3, logTerm: 1 }));
    const ready = m.node.ready();
    assert.deepEqual(ready.hardState, { term: 2, vote: 2, commit: 3 });
    assert.equal(ready.mustSync, true);
    assert.deepEqual(ready.messages, []);
    assert.deepEqual(
      ready.messagesAfterPersist.map((x) => [x.type, x.to, x.reject]),
      [[RequestVoteResponse, 2, false]],
    );
  });

  it("a candidate receiving an Append from a leader of its term becomes its follower", () => {
    const m = new Member(1, [1, 2, 3]);
    m.node.campaign();
    m.drain();
    m.receive({ type: Append, from: 2, term: 2, index: 3, logTerm: 1 });
    assert.equal(m.role, "follower");
    assert.equal(m.term, 2);
    assert.equal(m.leader, 2);
  });

  it("a candidate ignores an Append from an older term", () => {
    const m = new Member(1, [1, 2, 3]);
    m.node.campaign();
    m.drain();
    m.receive({ type: Append, from: 2, term: 1, index: 3, logTerm: 1 });
    assert.equal(m.role, "candidate");
    assert.equal(m.term, 2);
  });

  it("an elected leader sends Appends (its no-op) to assert its leadership at once", () => {
    const m = new Member(1, [1, 2, 3]);
    m.campaignWith([2]);
    assert.equal(m.role, "leader");
    const appends = m.take().filter((x) => x.type === Append);
    assert.deepEqual(
      appends.map((x) => ({
        to: x.to,
        index: x.index,
        logTerm: x.logTerm,
        entries: x.entries.map((e) => e.term),
      })),
      [
        { to: 2, index: 3, logTerm: 1, entries: [2] },
        { to: 3, index: 3, logTerm: 1, entries: [2] },
      ],
    );
  });

  it("a leader sends heartbeats every heartbeat interval", () => {
    const m = leaderOf([1, 2, 3]);
    m.tick();
    assert.deepEqual(
      m
        .take()
        .filter((x) => x.type === Heartbeat)
        .map((x) => x.to),
      [2, 3],
    );
  });
});

// ---------------------------------------------------------------------------------------------
// §5.3 Log replication
// ---------------------------------------------------------------------------------------------

describe("§5.3 Log replication", () => {
  it("the leader appends a proposal to its log and sends it to every follower", () => {
    const m = leaderOf([1, 2, 3]);
    // Followers acknowledged the no-op (index 4): they are in replicate state.
    m.receive({ type: AppendResponse, from: 2, term: 2, index: 4 });
    m.receive({ type: AppendResponse, from: 3, term: 2, index: 4 });
    m.take();
    const data = new TextEncoder().encode("some data");
    m.node.propose(data);
    m.drain();
    assert.deepEqual(m.logTerms(), [1, 1, 1, 2, 2]);
    assert.deepEqual(m.storage.entries(5, 6, 1000)[0]?.data, data);
    assert.equal(m.committed, 4, "not committed yet");
    const appends = m.take().filter((x) => x.type === Append);
    assert.deepEqual(
      appends.map((x) => ({
        to: x.to,
        index: x.index,
        logTerm: x.logTerm,
        commit: x.commit,
        n: x.entries.length,
      })),
      [
        { to: 2, index: 4, logTerm: 2, commit: 4, n: 1 },
        { to: 3, index: 4, logTerm: 2, commit: 4, n: 1 },
      ],
    );
  });

  it("the leader counts its own copy of an entry only once it is durable", () => {
    const m = leaderOf([1, 2, 3]);
    m.receive({ type: AppendResponse, from: 2, term: 2, index: 4 });
    assert.equal(m.committed, 4);
    m.node.propose(new TextEncoder().encode("x")); // index 5, not yet persisted by the caller
    m.node.step(message({ type: AppendResponse, to: 1, from: 2, term: 2, index: 5 }));
    assert.equal(m.node.status().commitIndex, 4, "only 2's copy is durable: one of three");
    m.drain(); // the caller persists the Ready: now the leader's own copy counts
    assert.equal(m.committed, 5);
  });

  for (const knob of [false, true]) {
    it(`a follower acknowledges an Append only after persisting it${knob ? " [respondBeforePersist knob: it does not]" : ""}`, () => {
      const m = new Member(2, [1, 2, 3], {
        config: { testingKnobs: { respondBeforePersist: knob } },
      });
      m.node.step(
        message({
          type: Append,
          to: 2,
          from: 1,
          term: 2,
          index: 3,
          logTerm: 1,
          entries: [{ term: 2, index: 4, type: EntryType.Normal, data: EMPTY }],
        }),
      );
      const ready = m.node.ready();
      assert.deepEqual(
        ready.entries.map((e) => e.index),
        [4],
      );
      assert.equal(ready.mustSync, true);
      const ack = (list: readonly Message[]) =>
        list.filter((x) => x.type === AppendResponse).length;
      assert.equal(
        ack(ready.messagesAfterPersist),
        knob ? 0 : 1,
        "sent once the Ready is persisted",
      );
      assert.equal(ack(ready.messages), knob ? 1 : 0);
    });
  }

  describe("an entry commits once the leader knows a majority stored it", () => {
    const cases: Array<{ size: number; acks: NodeId[]; commits: boolean }> = [
      { size: 1, acks: [], commits: true },
      { size: 3, acks: [], commits: false },
      { size: 3, acks: [2], commits: true },
      { size: 3, acks: [2, 3], commits: true },
      { size: 5, acks: [], commits: false },
      { size: 5, acks: [2], commits: false },
      { size: 5, acks: [2, 3], commits: true },
      { size: 5, acks: [2, 3, 4], commits: true },
      { size: 5, acks: [2, 3, 4, 5], commits: true },
    ];
    for (const { size, acks, commits } of cases) {
      it(`${size} members, acked by [${acks}]: ${commits ? "committed" : "not committed"}`, () => {
        const voters = Array.from({ length: size }, (_, i) => i + 1);
        const m = leaderOf(voters);
        const noop = size + 1;
        for (const from of acks) m.receive({ type: AppendResponse, from, term: 2, index: noop });
        assert.equal(m.committed, commits ? noop : size);
        assert.equal(
          m.applied.some((e) => e.index === noop),
          commits,
          "the leader applies what it commits",
        );
      });
    }
  });

  it("the leader tells followers its commit index, and they commit up to it", () => {
    const m = new Member(2, [1, 2, 3]);
    const entries = [5, 6, 7].map((index) => ({
      term: 2,
      index,
      type: EntryType.Normal,
      data: EMPTY,
    }));
    m.receive({
      type: Append,
      from: 1,
      term: 2,
      index: 3,
      logTerm: 1,
      entries: [{ term: 2, index: 4, type: EntryType.Normal, data: EMPTY }, ...entries],
      commit: 5,
    });
    assert.equal(m.committed, 5);
    assert.deepEqual(
      m.applied.map((e) => e.index),
      [1, 2, 3, 4, 5],
      "applied in log order",
    );
    // A commit index past the follower's log is capped at what the Append carried.
    m.receive({ type: Append, from: 1, term: 2, index: 7, logTerm: 2, entries: [], commit: 100 });
    assert.equal(m.committed, 7);
  });

  describe("a follower accepts an Append only if its log matches at the previous entry", () => {
    // The follower's log: bootstrap 1-3 (term 1), 4 (term 2), 5 (term 3); committed 3.
    const cases: Array<{
      prevTerm: number;
      prevIndex: number;
      wantIndex: number;
      wantReject: boolean;
      wantHint?: [number, number];
    }> = [
      { prevTerm: 0, prevIndex: 0, wantIndex: 3, wantReject: false }, // below commit: answered with it
      { prevTerm: 1, prevIndex: 3, wantIndex: 3, wantReject: false },
      { prevTerm: 2, prevIndex: 4, wantIndex: 4, wantReject: false },
      { prevTerm: 3, prevIndex: 5, wantIndex: 5, wantReject: false },
      // Term mismatch at an existing entry: the hint is our last entry of a term <= theirs.
      { prevTerm: 3, prevIndex: 4, wantIndex: 4, wantReject: true, wantHint: [4, 2] },
      { prevTerm: 2, prevIndex: 5, wantIndex: 5, wantReject: true, wantHint: [4, 2] },
      // No entry there at all: the hint is our last entry.
      { prevTerm: 3, prevIndex: 6, wantIndex: 6, wantReject: true, wantHint: [5, 3] },
      { prevTerm: 4, prevIndex: 9, wantIndex: 9, wantReject: true, wantHint: [5, 3] },
    ];
    for (const { prevTerm, prevIndex, wantIndex, wantReject, wantHint } of cases) {
      it(`prev (${prevIndex}, term ${prevTerm}): ${wantReject ? "reject" : "accept"}`, () => {
        const m = new Member(2, [1, 2, 3], { terms: [2, 3], hard: { term: 3 } });
        m.take();
        m.receive({
          type: Append,
          from: 1,
          term: 3,
          index: prevIndex,
          logTerm: prevTerm,
          commit: 3,
        });
        const responses = m.take().filter((x) => x.type === AppendResponse);
        assert.equal(responses.length, 1);
        const response = responses[0]!;
        assert.equal(response.to, 1);
        assert.equal(response.index, wantIndex);
        assert.equal(response.reject, wantReject);
        if (wantHint !== undefined)
          assert.deepEqual([response.rejectHint, response.logTerm], wantHint);
        assert.deepEqual(m.logTerms(), [1, 1, 1, 2, 3], "a bare Append changes no entry");
      });
    }
  });

  describe("a follower appends new entries, deleting a conflicting suffix", () => {
    // The follower's log: bootstrap 1-3, 4 (term 2), 5 (term 3); committed 3.
    const e = (index: number, term: number): Entry => ({
      term,
      index,
      type: EntryType.Normal,
      data: EMPTY,
    });
    const cases: Array<{
      name: string;
      prevTerm: number;
      prevIndex: number;
      entries: Entry[];
      want: number[];
    }> = [
      {
        name: "after the last entry",
        prevTerm: 3,
        prevIndex: 5,
        entries: [e(6, 4)],
        want: [1, 1, 1, 2, 3, 4],
      },
      {
        name: "conflicting from 4",
        prevTerm: 1,
        prevIndex: 3,
        entries: [e(4, 3), e(5, 4)],
        want: [1, 1, 1, 3, 4],
      },
      {
        name: "conflicting at 5",
        prevTerm: 2,
        prevIndex: 4,
        entries: [e(5, 4)],
        want: [1, 1, 1, 2, 4],
      },
      {
        name: "entries it already has",
        prevTerm: 1,
        prevIndex: 3,
        entries: [e(4, 2), e(5, 3)],
        want: [1, 1, 1, 2, 3],
      },
      {
        name: "a prefix of what it has (a delayed Append): nothing is truncated",
        prevTerm: 1,
        prevIndex: 3,
        entries: [e(4, 2)],
        want: [1, 1, 1, 2, 3],
      },
    ];
    for (const { name, prevTerm, prevIndex, entries, want } of cases) {
      it(name, () => {
        const m = new Member(2, [1, 2, 3], { terms: [2, 3], hard: { term: 3 } });
        m.receive({
          type: Append,
          from: 1,
          term: 4,
          index: prevIndex,
          logTerm: prevTerm,
          entries,
          commit: 3,
        });
        assert.deepEqual(m.logTerms(), want);
        const response = m.take().find((x) => x.type === AppendResponse);
        assert.equal(response?.reject, false);
        assert.equal(response?.index, prevIndex + entries.length);
      });
    }
  });

  describe("the leader brings every follower's log in line with its own (Figure 7)", () => {
    // The leader's log in Figure 7, term 8 (its first three entries, of term 1, are here the
    // bootstrap entries of a 3-member cluster).
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers: Record<string, number[]> = {
      "(a) missing one entry": [1, 1, 1, 4, 4, 5, 5, 6, 6],
      "(b) missing many entries": [1, 1, 1, 4],
      "(c) one extra entry of the leader's last term": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
      "(d) extra entries of a later term": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
      "(e) missing entries and extra ones of an earlier term": [1, 1, 1, 4, 4, 4, 4],
      "(f) a long divergent history (terms 2 and 3)": [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    };
    for (const [name, followerLog] of Object.entries(followers)) {
      it(name, () => {
        const c = new TestCluster([1, 2, 3], { config: PAPER });
        const load = (id: NodeId, log: number[], hard: HardState) => {
          const storage = c.member(id).storage;
          storage.append(
            log
              .slice(3)
              .map((term, i) => ({ term, index: 4 + i, type: EntryType.Normal, data: EMPTY })),
          );
          storage.setHardState(hard);
          c.restart(id);
        };
        load(1, leaderLog, { term: 8, vote: 0, commit: leaderLog.length });
        load(2, followerLog, { term: 7, vote: 0, commit: 3 });
        // 3 has the bootstrap entries only and votes for 1; 2 may refuse (case d).
        c.campaign(1);
        assert.equal(c.role(1), "leader");
        assert.equal(c.term(1), 9);
        c.tickAll(1);
        const want = [...leaderLog, 9];
        assert.deepEqual(c.logTerms(1), want);
        assert.deepEqual(c.logTerms(2), want);
        assert.deepEqual(c.logTerms(3), want);
        assert.equal(c.committed(2), 11);
      });
    }
  });

  it("followers apply committed entries in log order, the same entries as the leader", () => {
    const c = new TestCluster([1, 2, 3], { config: PAPER });
    c.campaign(1);
    for (let i = 0; i < 5; i++) c.propose(1, `a${i}`);
    c.isolate(3);
    for (let i = 0; i < 5; i++) c.propose(1, `b${i}`);
    c.heal();
    c.tickAll(1);
    for (let i = 0; i < 5; i++) c.propose(2, `c${i}`); // forwarded to the leader
    const want = [0, 1, 2, 3, 4]
      .flatMap((i) => [`a${i}`])
      .concat(
        [0, 1, 2, 3, 4].map((i) => `b${i}`),
        [0, 1, 2, 3, 4].map((i) => `c${i}`),
      );
    for (const id of [1, 2, 3]) {
      const member = c.member(id);
      assert.deepEqual(c.appliedData(id), want, `data applied by ${id}`);
      assert.deepEqual(
        member.applied.map((e) => e.index),
        Array.from({ length: 19 }, (_, i) => i + 1),
        `${id} applies every index once, in order`,
      );
    }
  });
});

// ---------------------------------------------------------------------------------------------
// §5.4 Safety
// ---------------------------------------------------------------------------------------------

describe("§5.4.1 Election restriction", () => {
  // The voter's log ends with (lastIndex, lastTerm); the candidate's with (index, logTerm).
  const cases: Array<{ voter: number[]; index: number; logTerm: number; granted: boolean }> = [
    // Same last term: the longer (or equal) log wins.
    { voter: [], index: 3, logTerm: 1, granted: true },
    { voter: [], index: 4, logTerm: 1, granted: true },
    { voter: [1], index: 3, logTerm: 1, granted: false },
    // The candidate's last term is later: it wins whatever the length.
    { voter: [], index: 3, logTerm: 2, granted: true },
    { voter: [], index: 4, logTerm: 2, granted: true },
    { voter: [1], index: 3, logTerm: 2, granted: true },
    // The voter's last term is later: the candidate loses whatever the length.
    { voter: [2], index: 3, logTerm: 1, granted: false },
    { voter: [2], index: 4, logTerm: 1, granted: false },
    { voter: [2, 2], index: 9, logTerm: 1, granted: false },
  ];
  for (const knob of [false, true]) {
    for (const { voter, index, logTerm, granted } of cases) {
      const want = knob || granted;
      const label = `voter log [1,1,1${voter.map((t) => `,${t}`).join("")}], candidate (${index}, term ${logTerm})`;
      it(`${knob ? "[voteWithoutLogCheck knob] " : ""}${label}: ${want ? "grant" : "refuse"}`, () => {
        const m = new Member(1, [1, 2, 3], {
          terms: voter,
          hard: { term: 2 },
          config: { testingKnobs: { voteWithoutLogCheck: knob } },
        });
        m.receive({ type: RequestVote, from: 2, term: 3, index, logTerm });
        const response = m.take().find((x) => x.type === RequestVoteResponse);
        assert.equal(response?.reject, !want);
        assert.equal(m.vote, want ? 2 : 0);
        assert.equal(m.term, 3, "the term is adopted either way");
      });
    }
  }

  it("a member missing committed entries cannot be elected", () => {
    const c = new TestCluster([1, 2, 3], { config: PAPER });
    c.campaign(1);
    c.isolate(3);
    c.propose(1, "committed by 1 and 2");
    c.crash(1);
    c.heal();
    c.campaign(3);
    assert.equal(c.role(3), "candidate", "2 refuses: its log is more up to date");
    c.campaign(2);
    assert.equal(c.leader(), 2);
    assert.deepEqual(c.appliedData(3), ["committed by 1 and 2"]);
  });
});

describe("§5.4.2 Committing entries from previous terms (Figure 8: see scenarios.test.ts, 1.)", () => {
  function leaderWithOldEntries(config: Partial<RaftConfig> = {}): Member {
    // Entries 4 (term 2) and 5 (term 3) from earlier leaders, never committed; now term 4.
    const m = new Member(1, [1, 2, 3], { terms: [2, 3], hard: { term: 3 }, config });
    m.campaignWith([2]);
    assert.equal(m.role, "leader");
    assert.equal(m.term, 4);
    assert.deepEqual(m.logTerms(), [1, 1, 1, 2, 3, 4], "its no-op at 6");
    return m;
  }

  const cases = [
    { acked: 4, wantCommit: 3 },
    { acked: 5, wantCommit: 3 },
    { acked: 6, wantCommit: 6 },
  ];
  for (const { acked, wantCommit } of cases) {
    it(`a majority has index ${acked}: commit ${wantCommit}`, () => {
      const m = leaderWithOldEntries();
      m.receive({ type: AppendResponse, from: 2, term: 4, index: acked });
      assert.equal(m.committed, wantCommit);
    });
  }

  it("committing its own entry commits every entry before it", () => {
    const m = leaderWithOldEntries();
    m.receive({ type: AppendResponse, from: 2, term: 4, index: 5 });
    m.receive({ type: AppendResponse, from: 2, term: 4, index: 6 });
    assert.equal(m.committed, 6);
    assert.deepEqual(
      m.applied.map((e) => `${e.index}:${e.term}`),
      ["1:1", "2:1", "3:1", "4:2", "5:3", "6:4"],
    );
  });

  it("with the commitEntriesOfEarlierTerms knob, index 5 (term 3) commits by counting (the bug)", () => {
    const m = leaderWithOldEntries({ testingKnobs: { commitEntriesOfEarlierTerms: true } });
    m.receive({ type: AppendResponse, from: 2, term: 4, index: 5 });
    assert.equal(m.committed, 5);
  });
});
