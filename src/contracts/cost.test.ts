import assert from "node:assert/strict";
import { test } from "node:test";
import { COST_LIMIT, compileExpression, costModel } from "./compile.ts";
import { estimateCost } from "./cost.ts";
import { activationFor, type WriteInput } from "./variables.ts";

const enc = new TextEncoder();

function cost(expression: string, value: string): number {
  const input: WriteInput = {
    key: enc.encode("k"),
    value: enc.encode(value),
    prev: null,
    lease: 0,
    user: "u",
    revision: 1,
    op: "put",
  };
  return estimateCost(compileExpression(expression).ast, costModel(activationFor(input).values));
}

const doc = (items: number, tags: number) =>
  JSON.stringify({
    items: Array.from({ length: items }, (_, i) => ({
      name: `item-${i}`,
      tags: Array.from({ length: tags }, (_, j) => `t${j}`),
    })),
  });

test("simple rules cost little, and the same at any value size", () => {
  const small = cost('key.startsWith("k") && user != ""', "x");
  assert.ok(small < 20, `${small}`);
  assert.equal(cost('key.startsWith("k") && user != ""', "x".repeat(100_000)), small);
});

test("data-proportional work grows linearly with the value", () => {
  const a = cost('value.string.contains("needle")', "x".repeat(10_000));
  const b = cost('value.string.contains("needle")', "x".repeat(20_000));
  assert.ok(b > 1.9 * a && b < 2.1 * a, `${a} then ${b}`);
});

test("a loop is bounded by the list it iterates, found in the actual document", () => {
  // 1000 items of 3 tags: the inner loop is bounded by 3 (the actual tags), not by 1000.
  const nested = cost("value.json.items.all(i, i.tags.all(t, t.size() < 5))", doc(1000, 3));
  assert.ok(nested < 40_000, `${nested}`);
  const wider = cost("value.json.items.all(i, i.tags.all(t, t.size() < 5))", doc(1000, 30));
  assert.ok(wider > 5 * nested, "more tags, proportionally more work");
  // Quadratic rules are quadratic in the estimate: over the limit for big documents.
  assert.ok(
    cost("value.json.items.all(a, value.json.items.all(b, a == b))", doc(1000, 1)) > COST_LIMIT,
  );
});

test("regex cost is linear in the input and in the pattern's size", () => {
  const a = cost('value.string.matches("^[a-z]+$")', "a".repeat(10_000));
  const b = cost('value.string.matches("^[a-z]+$")', "a".repeat(40_000));
  assert.ok(b > 3.5 * a && b < 4.5 * a, `${a} then ${b}`);
  const computed = cost("value.string.matches(value.json.p)", JSON.stringify({ p: "x" }));
  assert.ok(
    computed > cost('value.string.matches("x")', JSON.stringify({ p: "x" })),
    "unknown patterns are charged at the largest size",
  );
});
