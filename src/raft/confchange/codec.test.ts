// The ConfChange wire format and the interpretation of a ConfChange.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type ConfChange, ConfChangeTransition, ConfChangeType } from "../types.ts";
import { decodeConfChange, encodeConfChange, enterJointOf, isLeaveJoint } from "./codec.ts";
import { ConfChangeError } from "./confchange.ts";

const NO_CONTEXT = new Uint8Array(0);
const MAX_ID = Number.MAX_SAFE_INTEGER;

const confChangeArbitrary: fc.Arbitrary<ConfChange> = fc.record(
  {
    transition: fc.constantFrom(
      ConfChangeTransition.Auto,
      ConfChangeTransition.JointImplicit,
      ConfChangeTransition.JointExplicit,
    ),
    changes: fc.array(
      fc.record(
        {
          type: fc.constantFrom(
            ConfChangeType.AddNode,
            ConfChangeType.RemoveNode,
            ConfChangeType.AddLearnerNode,
          ),
          nodeId: fc.oneof(fc.nat({ max: 300 }), fc.integer({ min: 0, max: MAX_ID })),
        },
        { noNullPrototype: true },
      ),
      { maxLength: 6 },
    ),
    context: fc.uint8Array({ maxLength: 40 }),
  },
  { noNullPrototype: true },
);

function change(fields: Partial<ConfChange>): ConfChange {
  return { transition: ConfChangeTransition.Auto, changes: [], context: NO_CONTEXT, ...fields };
}

const isConfChangeError = (pattern: RegExp) => (error: unknown) =>
  error instanceof ConfChangeError && pattern.test(error.message);

describe("encodeConfChange / decodeConfChange", () => {
  it("encodes compactly, version first", () => {
    const encoded = encodeConfChange(
      change({ changes: [{ type: ConfChangeType.AddNode, nodeId: 300 }] }),
    );
    // version, transition, count, type, id 300 as LEB128 (0xac 0x02), context length
    assert.deepEqual([...encoded], [1, 0, 1, 0, 0xac, 0x02, 0]);
  });

  it("round-trips edge cases", () => {
    for (const original of [
      change({}),
      change({
        transition: ConfChangeTransition.JointExplicit,
        context: new Uint8Array([1, 2, 3]),
      }),
      change({
        transition: ConfChangeTransition.JointImplicit,
        changes: [
          { type: ConfChangeType.RemoveNode, nodeId: MAX_ID },
          { type: ConfChangeType.AddLearnerNode, nodeId: 0 },
          { type: ConfChangeType.AddNode, nodeId: 2 ** 32 + 1 },
        ],
      }),
    ]) {
      assert.deepEqual(decodeConfChange(encodeConfChange(original)), original);
    }
  });

  it("round-trips any conf change", () => {
    fc.assert(
      fc.property(confChangeArbitrary, (original) => {
        assert.deepEqual(decodeConfChange(encodeConfChange(original)), original);
      }),
    );
  });

  it("refuses every truncation of a valid encoding", () => {
    fc.assert(
      fc.property(confChangeArbitrary, (original) => {
        const encoded = encodeConfChange(original);
        for (let length = 0; length < encoded.length; length++) {
          assert.throws(() => decodeConfChange(encoded.subarray(0, length)), ConfChangeError);
        }
      }),
    );
  });

  const malformed: [string, number[], RegExp][] = [
    ["empty input", [], /truncated/],
    ["an unknown version", [2, 0, 0, 0], /version 2/],
    ["version 0", [0, 0, 0, 0], /version 0/],
    ["an unknown transition", [1, 3, 0, 0], /transition 3/],
    ["an unknown change type", [1, 0, 1, 3, 1, 0], /type 3/],
    ["trailing bytes", [1, 0, 0, 0, 9], /trailing/],
    ["a count larger than the data", [1, 0, 0x7f, 0, 1, 0], /truncated/],
    ["a context longer than the data", [1, 0, 0, 5, 1, 2], /truncated/],
    ["a non-canonical varint", [1, 0, 1, 0, 0x81, 0x00, 0], /non-canonical/],
    ["an id of 2^53", [1, 0, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 0], /2\^53/],
    ["a varint of nine bytes", [1, 0, 1, 0, ...Array(8).fill(0xff), 0x01, 0], /2\^53/],
  ];
  for (const [name, bytes, pattern] of malformed) {
    it(`refuses ${name}`, () => {
      assert.throws(() => decodeConfChange(new Uint8Array(bytes)), isConfChangeError(pattern));
    });
  }

  it("refuses to encode ids that are not safe integers", () => {
    for (const nodeId of [-1, 1.5, 2 ** 53, Number.NaN]) {
      const bad = change({ changes: [{ type: ConfChangeType.AddNode, nodeId }] });
      assert.throws(() => encodeConfChange(bad), ConfChangeError);
    }
  });
});

describe("enterJointOf / isLeaveJoint", () => {
  const add = { type: ConfChangeType.AddNode, nodeId: 1 } as const;
  const remove = { type: ConfChangeType.RemoveNode, nodeId: 2 } as const;
  const { Auto, JointImplicit, JointExplicit } = ConfChangeTransition;
  const cases: [string, ConfChange, { enter: boolean; autoLeave: boolean }, boolean][] = [
    ["empty auto: leave", change({}), { enter: false, autoLeave: false }, true],
    [
      "one auto change: simple",
      change({ changes: [add] }),
      { enter: false, autoLeave: false },
      false,
    ],
    [
      "two auto changes: joint, auto leave",
      change({ changes: [add, remove] }),
      { enter: true, autoLeave: true },
      false,
    ],
    [
      "implicit: joint, auto leave",
      change({ transition: JointImplicit, changes: [add] }),
      { enter: true, autoLeave: true },
      false,
    ],
    [
      "explicit: joint, explicit leave",
      change({ transition: JointExplicit, changes: [add] }),
      { enter: true, autoLeave: false },
      false,
    ],
    [
      "explicit, several",
      change({ transition: JointExplicit, changes: [add, remove] }),
      { enter: true, autoLeave: false },
      false,
    ],
    [
      "empty explicit: leave",
      change({ transition: JointExplicit }),
      { enter: true, autoLeave: false },
      true,
    ],
  ];
  for (const [name, confChange, joint, leave] of cases) {
    it(name, () => {
      assert.deepEqual(enterJointOf(confChange), joint);
      assert.equal(isLeaveJoint(confChange), leave);
    });
  }

  it("auto with one change is the simple protocol", () => {
    assert.equal(enterJointOf(change({ transition: Auto, changes: [remove] })).enter, false);
  });
});
