// Majority and joint-majority math, checked by tables and against brute-force definitions.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { NodeId } from "../types.ts";
import {
  type JointVoters,
  jointCommittedIndex,
  jointVoteResult,
  majorityCommittedIndex,
  majorityVoteResult,
  type VoteResult,
} from "./quorum.ts";

/** Voters 1..n with the given acked indexes (undefined: never acked). */
function acks(indexes: readonly (number | undefined)[]): {
  voters: Set<NodeId>;
  acked: (id: NodeId) => number | undefined;
} {
  const voters = new Set(indexes.map((_, i) => i + 1));
  return { voters, acked: (id) => indexes[id - 1] };
}

/** The definition: the largest N that a majority acked (an ack of N covers every index <= N). */
function bruteForceCommitted(
  voters: ReadonlySet<NodeId>,
  acked: (id: NodeId) => number | undefined,
): number {
  if (voters.size === 0) return Number.POSITIVE_INFINITY;
  const values = [...voters].map((id) => acked(id) ?? 0);
  const majority = Math.floor(voters.size / 2) + 1;
  let best = Number.NEGATIVE_INFINITY;
  for (const candidate of values) {
    const ackers = values.filter((value) => value >= candidate).length;
    if (ackers >= majority && candidate > best) best = candidate;
  }
  return best;
}

function bruteForceVote(
  voters: ReadonlySet<NodeId>,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  if (voters.size === 0) return "won";
  const majority = Math.floor(voters.size / 2) + 1;
  const ids = [...voters];
  const yes = ids.filter((id) => votes.get(id) === true).length;
  const notNo = ids.filter((id) => votes.get(id) !== false).length;
  if (yes >= majority) return "won";
  if (notNo >= majority) return "pending";
  return "lost";
}

describe("majorityCommittedIndex", () => {
  const cases: [string, (number | undefined)[], number][] = [
    ["empty config", [], Number.POSITIVE_INFINITY],
    ["single voter", [5], 5],
    ["single voter without ack", [undefined], 0],
    ["two voters need both", [5, 3], 3],
    ["three voters, median", [7, 2, 5], 5],
    ["three voters, one missing", [7, undefined, 5], 5],
    ["three voters, two missing", [7, undefined, undefined], 0],
    ["four voters need three", [4, 8, 6, 2], 4],
    ["five voters need three", [1, 9, 3, 7, 5], 5],
    ["duplicates", [3, 3, 3, 1, 1], 3],
  ];
  for (const [name, indexes, expected] of cases) {
    it(name, () => {
      const { voters, acked } = acks(indexes);
      assert.equal(majorityCommittedIndex(voters, acked), expected);
    });
  }

  it("handles -Infinity acks (lease dates that were never set)", () => {
    const { voters, acked } = acks([10, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    assert.equal(majorityCommittedIndex(voters, acked), Number.NEGATIVE_INFINITY);
  });

  it("is unaffected by earlier calls with larger voter sets (scratch reuse)", () => {
    const large = acks([9, 9, 9, 9, 9, 9, 9]);
    assert.equal(majorityCommittedIndex(large.voters, large.acked), 9);
    const small = acks([1, 2, 3]);
    assert.equal(majorityCommittedIndex(small.voters, small.acked), 2);
  });

  it("agrees with the brute-force definition", () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.nat({ max: 20 }), { nil: undefined }), { maxLength: 9 }),
        (indexes) => {
          const { voters, acked } = acks(indexes);
          assert.equal(majorityCommittedIndex(voters, acked), bruteForceCommitted(voters, acked));
        },
      ),
    );
  });
});

describe("majorityVoteResult", () => {
  const cases: [string, number, [NodeId, boolean][], VoteResult][] = [
    ["empty config wins", 0, [], "won"],
    ["single voter pending", 1, [], "pending"],
    ["single voter yes", 1, [[1, true]], "won"],
    ["single voter no", 1, [[1, false]], "lost"],
    ["three, one yes", 3, [[1, true]], "pending"],
    [
      "three, two yes",
      3,
      [
        [1, true],
        [2, true],
      ],
      "won",
    ],
    [
      "three, two no",
      3,
      [
        [1, false],
        [3, false],
      ],
      "lost",
    ],
    [
      "four, two yes two missing",
      4,
      [
        [1, true],
        [2, true],
      ],
      "pending",
    ],
    [
      "four, two yes two no",
      4,
      [
        [1, true],
        [2, true],
        [3, false],
        [4, false],
      ],
      "lost",
    ],
    [
      "votes of non-voters are ignored",
      1,
      [
        [7, true],
        [8, true],
      ],
      "pending",
    ],
  ];
  for (const [name, voterCount, votes, expected] of cases) {
    it(name, () => {
      const voters = new Set(Array.from({ length: voterCount }, (_, i) => i + 1));
      assert.equal(majorityVoteResult(voters, new Map(votes)), expected);
    });
  }

  it("agrees with the brute-force definition", () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.boolean(), { nil: undefined }), { maxLength: 9 }),
        (answers) => {
          const voters = new Set(answers.map((_, i) => i + 1));
          const votes = new Map<NodeId, boolean>();
          answers.forEach((answer, i) => {
            if (answer !== undefined) votes.set(i + 1, answer);
          });
          assert.equal(majorityVoteResult(voters, votes), bruteForceVote(voters, votes));
        },
      ),
    );
  });
});

describe("joint decisions", () => {
  const joint = (incoming: NodeId[], outgoing: NodeId[]): JointVoters => [
    new Set(incoming),
    new Set(outgoing),
  ];
  const ackedBy =
    (table: Record<NodeId, number>) =>
    (id: NodeId): number | undefined =>
      table[id];

  it("committed index is the minimum of both halves", () => {
    const acked = ackedBy({ 1: 10, 2: 8, 3: 2, 4: 1, 5: 9 });
    assert.equal(jointCommittedIndex(joint([1, 2, 3], [3, 4, 5]), acked), 2);
    assert.equal(jointCommittedIndex(joint([1, 2, 3], []), acked), 8);
    assert.equal(jointCommittedIndex(joint([], [1, 2, 5]), acked), 9);
    assert.equal(jointCommittedIndex(joint([], []), acked), Number.POSITIVE_INFINITY);
  });

  it("committed index agrees with the brute-force definition", () => {
    const ids = fc.uniqueArray(fc.integer({ min: 1, max: 8 }), { maxLength: 6 });
    fc.assert(
      fc.property(
        ids,
        ids,
        fc.array(fc.nat({ max: 20 }), { minLength: 8, maxLength: 8 }),
        (a, b, indexes) => {
          const voters = joint(a, b);
          const acked = (id: NodeId) => indexes[id - 1];
          const expected = Math.min(
            bruteForceCommitted(voters[0], acked),
            bruteForceCommitted(voters[1], acked),
          );
          assert.equal(jointCommittedIndex(voters, acked), expected);
        },
      ),
    );
  });

  const voteCases: [string, NodeId[], NodeId[], [NodeId, boolean][], VoteResult][] = [
    [
      "not joint behaves as majority",
      [1, 2, 3],
      [],
      [
        [1, true],
        [2, true],
      ],
      "won",
    ],
    [
      "won in incoming only is pending",
      [1, 2, 3],
      [4, 5, 6],
      [
        [1, true],
        [2, true],
      ],
      "pending",
    ],
    [
      "lost in outgoing loses",
      [1, 2, 3],
      [4, 5, 6],
      [
        [1, true],
        [2, true],
        [4, false],
        [5, false],
      ],
      "lost",
    ],
    [
      "won in both",
      [1, 2, 3],
      [3, 4, 5],
      [
        [1, true],
        [3, true],
        [4, true],
      ],
      "won",
    ],
    [
      "shared voter counts in both",
      [1, 2],
      [2, 3],
      [
        [2, true],
        [1, true],
        [3, false],
      ],
      "lost",
    ],
    ["pending in both", [1, 2, 3], [3, 4, 5], [], "pending"],
  ];
  for (const [name, incoming, outgoing, votes, expected] of voteCases) {
    it(`vote: ${name}`, () => {
      assert.equal(jointVoteResult(joint(incoming, outgoing), new Map(votes)), expected);
    });
  }
});
