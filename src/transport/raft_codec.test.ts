import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Entry, Message, MessageType, Snapshot } from "../raft/index.ts";
import { EMPTY_CONF_STATE, MessageType as MT } from "../raft/index.ts";
import { FrameDecodeError } from "./errors.ts";
import { decodeMessages, encodeMessages, messagesSize } from "./raft_codec.ts";

const num = fc.oneof(fc.nat(300), fc.maxSafeNat());
const bytes = fc.uint8Array({ maxLength: 40 });
const ids = fc.array(fc.nat({ max: 2 ** 40 }), { maxLength: 5 });

const entry: fc.Arbitrary<Entry> = fc.record({
  term: num,
  index: num,
  type: fc.constantFrom(0 as const, 1 as const),
  data: bytes,
});

const snapshot: fc.Arbitrary<Snapshot> = fc.record({
  metadata: fc.record({
    index: num,
    term: num,
    confState: fc.record({
      voters: ids,
      votersOutgoing: ids,
      learners: ids,
      learnersNext: ids,
      autoLeave: fc.boolean(),
    }),
  }),
  data: bytes,
});

const message: fc.Arbitrary<Message> = fc.record({
  type: fc.integer({ min: 0, max: 18 }).map((t) => t as MessageType),
  to: num,
  from: num,
  term: num,
  logTerm: num,
  index: num,
  entries: fc.array(entry, { maxLength: 4 }),
  commit: num,
  snapshot: fc.option(snapshot, { nil: null }),
  reject: fc.boolean(),
  rejectHint: num,
  context: bytes,
});

/** Decoded byte fields are views: compare them as plain arrays. */
function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  }
  return value;
}

function heartbeat(): Message {
  return {
    type: MT.Heartbeat,
    to: 2,
    from: 1,
    term: 5,
    logTerm: 0,
    index: 7,
    entries: [],
    commit: 3,
    snapshot: null,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(),
  };
}

describe("raft codec", () => {
  it("round-trips random message batches", () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 6 }), (messages) => {
        const buf = encodeMessages(messages);
        assert.equal(buf.length, messagesSize(messages));
        assert.deepEqual(normalize(decodeMessages(buf)), normalize(messages));
      }),
      { numRuns: 300 },
    );
  });

  it("keeps entry data as views of the input", () => {
    const m = {
      ...heartbeat(),
      entries: [{ term: 1, index: 1, type: 0 as const, data: Buffer.from("abc") }],
    };
    const buf = encodeMessages([m]);
    const data = decodeMessages(buf)[0]!.entries[0]!.data;
    assert.equal(data.buffer, buf.buffer);
    assert.equal(Buffer.from(data).toString(), "abc");
  });

  it("encodes a snapshot's conf state", () => {
    const m: Message = {
      ...heartbeat(),
      type: MT.InstallSnapshot,
      snapshot: {
        metadata: { index: 9, term: 2, confState: { ...EMPTY_CONF_STATE, voters: [1, 2, 3] } },
        data: new Uint8Array(),
      },
    };
    const decoded = decodeMessages(encodeMessages([m]))[0]!;
    assert.deepEqual(decoded.snapshot?.metadata.confState.voters, [1, 2, 3]);
  });

  it("rejects numbers it cannot carry", () => {
    assert.throws(() => encodeMessages([{ ...heartbeat(), term: -1 }]), RangeError);
    assert.throws(() => encodeMessages([{ ...heartbeat(), term: 2 ** 53 }]), RangeError);
  });

  it("throws FrameDecodeError on malformed input", () => {
    const good = encodeMessages([heartbeat(), heartbeat()]);
    for (let cut = 0; cut < good.length; cut++) {
      assert.throws(() => decodeMessages(good.subarray(0, cut)), FrameDecodeError, `cut ${cut}`);
    }
    assert.throws(() => decodeMessages(Buffer.concat([good, Buffer.from([0])])), FrameDecodeError);
    const badType = Buffer.from(good);
    badType[1] = 99;
    assert.throws(() => decodeMessages(badType), /unknown message type 99/);
    // A huge count must fail fast instead of allocating.
    assert.throws(() => decodeMessages(Buffer.from([0xff, 0xff, 0xff, 0x7f])), FrameDecodeError);
    // A varint over 8 bytes.
    assert.throws(() => decodeMessages(Buffer.alloc(12, 0xff)), FrameDecodeError);
  });

  it("survives random garbage with only FrameDecodeError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (garbage) => {
        try {
          decodeMessages(garbage);
        } catch (error) {
          assert.ok(error instanceof FrameDecodeError, String(error));
        }
      }),
    );
  });
});
