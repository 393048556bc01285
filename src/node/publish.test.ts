import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClientUrlPublisher, type PublishState } from "./publish.ts";

const LEADER = 7;
const NO_LEADER = 0;
const ELECTION_MS = 500;
const REQUEST_TIMEOUT_MS = 7_000;
const TICK_MS = 50;

/**
 * A member's publish path on a fake clock. `propose` behaves like a follower's proposal whose
 * forwarded message the transport dropped: nothing ever answers it (the real one rejects only
 * when REQUEST_TIMEOUT_MS has passed). The registry shows the publish once `applied` is set.
 */
function harness(initial: PublishState = "stale") {
  let now = 0;
  let state: PublishState = initial;
  const proposedAt: number[] = [];
  const warnings: string[] = [];
  const rejects: ((error: Error) => void)[] = [];
  const publisher = new ClientUrlPublisher({
    retryMs: ELECTION_MS,
    maxRetryMs: REQUEST_TIMEOUT_MS,
    state: () => state,
    propose: () => {
      proposedAt.push(now);
      return new Promise((_resolve, reject) => rejects.push(reject));
    },
    now: () => now,
    warn: (message) => warnings.push(message),
  });
  return {
    publisher,
    proposedAt,
    warnings,
    rejects,
    setState: (next: PublishState) => {
      state = next;
    },
    /** Ticks every TICK_MS for `ms`, the way the member's tick timer does. */
    run(ms: number, leader = LEADER) {
      for (const end = now + ms; now < end; ) {
        now += TICK_MS;
        publisher.tick(leader);
      }
    },
  };
}

describe("publishing the client URL", () => {
  it("sends a publish dropped on its way to the leader again within an election timeout, not after the request timeout", () => {
    const h = harness();
    h.publisher.leaderChanged(LEADER);
    assert.deepEqual(h.proposedAt, [0], "published as soon as the leader is known");
    // The proposal was lost (the link to the leader was down) and no leader change follows.
    h.run(ELECTION_MS);
    assert.deepEqual(h.proposedAt, [0, ELECTION_MS], "published again after an election timeout");
    h.setState("current");
    h.run(3 * REQUEST_TIMEOUT_MS);
    assert.deepEqual(h.proposedAt, [0, ELECTION_MS], "nothing more once the registry shows it");
  });

  it("backs off up to the request timeout while the publish does not show up", () => {
    const h = harness();
    h.publisher.leaderChanged(LEADER);
    h.run(30_000);
    const gaps = h.proposedAt.slice(1).map((at, i) => at - h.proposedAt[i]!);
    assert.deepEqual(gaps.slice(0, 5), [500, 1_000, 2_000, 4_000, REQUEST_TIMEOUT_MS]);
    assert.ok(gaps.every((gap) => gap <= REQUEST_TIMEOUT_MS));
    // A new leader: at once, and the backoff starts over.
    const before = h.proposedAt.length;
    h.publisher.leaderChanged(LEADER + 1);
    h.run(ELECTION_MS, LEADER + 1);
    assert.equal(h.proposedAt.length, before + 2);
  });

  it("waits for a leader, and for its own entry in the registry", () => {
    const h = harness("absent");
    h.publisher.leaderChanged(LEADER);
    h.run(2_000);
    assert.deepEqual(h.proposedAt, [], "not a member here yet (added by MemberAdd)");
    h.setState("stale");
    h.run(2_000, NO_LEADER);
    h.publisher.leaderChanged(NO_LEADER);
    assert.deepEqual(h.proposedAt, [], "no leader to send it to");
    h.run(TICK_MS);
    assert.equal(h.proposedAt.length, 1, "published on the first tick with a leader");
  });

  it("warns about a failed attempt only while the publish is still missing", async () => {
    const h = harness();
    h.publisher.leaderChanged(LEADER);
    h.run(ELECTION_MS);
    h.rejects[1]!(new Error("timed out"));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(h.warnings.length, 1);
    h.setState("current");
    h.rejects[0]!(new Error("timed out"));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(h.warnings.length, 1, "a superseded attempt timing out is no news");
  });

  it("survives a proposal refused on the spot (the member is stopping)", () => {
    const warnings: string[] = [];
    const publisher = new ClientUrlPublisher({
      retryMs: ELECTION_MS,
      maxRetryMs: REQUEST_TIMEOUT_MS,
      state: () => "stale",
      propose: () => {
        throw new Error("member is shutting down");
      },
      now: () => 0,
      warn: (message) => warnings.push(message),
    });
    publisher.leaderChanged(LEADER);
    assert.match(warnings[0]!, /member is shutting down/);
  });
});
