// The inflight window: ring wraparound, count and byte limits, freeing by index.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RaftInvariantError } from "../errors.ts";
import { Inflights } from "./inflights.ts";

describe("Inflights", () => {
  it("fills up to maxMessages and refuses more", () => {
    const inflights = new Inflights(3, 0);
    for (const index of [1, 2, 3]) {
      assert.equal(inflights.full(), false);
      inflights.add(index, 100);
    }
    assert.equal(inflights.full(), true);
    assert.equal(inflights.count(), 3);
    assert.throws(() => inflights.add(4, 1), RaftInvariantError);
  });

  it("refuses an index that does not increase", () => {
    const inflights = new Inflights(4, 0);
    inflights.add(5, 1);
    assert.throws(() => inflights.add(5, 1), RaftInvariantError);
    assert.throws(() => inflights.add(4, 1), RaftInvariantError);
    assert.equal(inflights.count(), 1);
  });

  it("frees every message up to an index, and nothing when the index is older", () => {
    const inflights = new Inflights(10, 0);
    for (const index of [2, 4, 6, 8]) inflights.add(index, 10);
    inflights.freeLE(1);
    assert.equal(inflights.count(), 4);
    inflights.freeLE(5);
    assert.equal(inflights.count(), 2);
    assert.equal(inflights.bytes(), 20);
    inflights.freeLE(8);
    assert.equal(inflights.count(), 0);
    assert.equal(inflights.bytes(), 0);
  });

  it("wraps around the ring", () => {
    const inflights = new Inflights(4, 0);
    for (const index of [1, 2, 3, 4]) inflights.add(index, 1);
    inflights.freeLE(2);
    inflights.add(5, 1);
    inflights.add(6, 1); // occupies slots 0 and 1 again
    assert.equal(inflights.full(), true);
    inflights.freeLE(4);
    assert.equal(inflights.count(), 2);
    inflights.freeLE(5);
    assert.equal(inflights.count(), 1);
    inflights.add(7, 1);
    inflights.add(8, 1);
    inflights.add(9, 1);
    assert.equal(inflights.full(), true);
    inflights.freeLE(9);
    assert.equal(inflights.count(), 0);
  });

  it("is full once the byte limit is reached, and frees bytes with messages", () => {
    const inflights = new Inflights(10, 100);
    inflights.add(1, 60);
    assert.equal(inflights.full(), false);
    inflights.add(2, 40);
    assert.equal(inflights.full(), true);
    assert.throws(() => inflights.add(3, 1), RaftInvariantError);
    inflights.freeLE(1);
    assert.equal(inflights.full(), false);
    assert.equal(inflights.bytes(), 40);
  });

  it("admits one message larger than the byte limit (progress over limits)", () => {
    const inflights = new Inflights(10, 100);
    inflights.add(1, 500);
    assert.equal(inflights.full(), true);
  });

  it("reset empties it", () => {
    const inflights = new Inflights(2, 100);
    inflights.add(1, 10);
    inflights.add(2, 10);
    inflights.reset();
    assert.equal(inflights.count(), 0);
    assert.equal(inflights.full(), false);
    inflights.add(1, 5);
    assert.equal(inflights.count(), 1);
  });

  it("clone is independent", () => {
    const inflights = new Inflights(3, 0);
    inflights.add(1, 1);
    const copy = inflights.clone();
    copy.add(2, 1);
    inflights.freeLE(1);
    assert.equal(inflights.count(), 0);
    assert.equal(copy.count(), 2);
  });

  it("behaves like a bounded queue under random operations", () => {
    const operation = fc.oneof(
      fc.record({
        kind: fc.constant("add" as const),
        step: fc.integer({ min: 1, max: 3 }),
        bytes: fc.nat({ max: 50 }),
      }),
      fc.record({ kind: fc.constant("free" as const), back: fc.nat({ max: 6 }) }),
      fc.record({ kind: fc.constant("reset" as const) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.nat({ max: 120 }),
        fc.array(operation, { maxLength: 60 }),
        (maxMessages, maxBytes, operations) => {
          const inflights = new Inflights(maxMessages, maxBytes);
          const model: { index: number; bytes: number }[] = [];
          let lastIndex = 0;
          for (const op of operations) {
            if (op.kind === "add") {
              if (inflights.full()) continue;
              lastIndex += op.step;
              inflights.add(lastIndex, op.bytes);
              model.push({ index: lastIndex, bytes: op.bytes });
            } else if (op.kind === "free") {
              const upTo = lastIndex - op.back;
              inflights.freeLE(upTo);
              while (model.length > 0 && model[0]!.index <= upTo) model.shift();
            } else {
              inflights.reset();
              model.length = 0;
            }
            const modelBytes = model.reduce((sum, message) => sum + message.bytes, 0);
            assert.equal(inflights.count(), model.length);
            assert.equal(inflights.bytes(), modelBytes);
            const full = model.length === maxMessages || (maxBytes > 0 && modelBytes >= maxBytes);
            assert.equal(inflights.full(), full);
          }
        },
      ),
    );
  });
});
