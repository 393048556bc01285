import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { evaluateRules, rulesForKey } from "./match.ts";
import { createRule, type Rule } from "./rule.ts";
import type { WriteInput } from "./variables.ts";

const enc = new TextEncoder();

const rules: Rule[] = [
  createRule({
    name: "z-size",
    prefix: "",
    expression: "op == 'delete' || value.size < 100",
    message: "too big",
  }),
  createRule({
    name: "docs-json",
    prefix: "docs/",
    expression: "op == 'delete' || value.json != null",
    message: "documents are JSON",
  }),
  createRule({
    name: "a-docs-owner",
    prefix: "docs/",
    expression: "op == 'delete' || value.json.owner == user",
    message: "not yours",
  }),
  createRule({
    name: "once",
    prefix: "docs/frozen/",
    expression: "prev == null",
    message: "frozen",
  }),
];

function put(key: string, value: string, user = "alice"): WriteInput {
  return {
    key: enc.encode(key),
    value: enc.encode(value),
    prev: null,
    lease: 0,
    user,
    revision: 2,
    op: "put",
  };
}

test("a rule applies to every key its prefix starts; the empty prefix applies to all", () => {
  const names = (key: string) => rulesForKey(rules, enc.encode(key)).map((r) => r.name);
  assert.deepEqual(names("other"), ["z-size"]);
  assert.deepEqual(names("docs/1"), ["a-docs-owner", "docs-json", "z-size"]);
  assert.deepEqual(names("docs/frozen/x"), ["a-docs-owner", "docs-json", "once", "z-size"]);
  assert.deepEqual(names("docs"), ["z-size"], "a shorter key does not match a longer prefix");
  const binary = createRule({
    name: "bin",
    prefix: Uint8Array.of(0xff),
    expression: "true",
    message: "",
  });
  assert.deepEqual(rulesForKey([binary], Uint8Array.of(0xff, 0)).length, 1);
  assert.deepEqual(rulesForKey([binary], Uint8Array.of(0xfe, 0)).length, 0);
});

test("rules run in name order and the first rejection decides", () => {
  assert.deepEqual(evaluateRules(rules, put("docs/1", '{"owner":"alice"}')), { allowed: true });
  // Not JSON: a-docs-owner errors (no owner field) before docs-json would reject it.
  const verdict = evaluateRules(rules, put("docs/1", "plain text"));
  assert.equal(verdict.allowed, false);
  assert.equal(!verdict.allowed && verdict.rule, "a-docs-owner");
  const big = evaluateRules(
    rules,
    put("docs/1", JSON.stringify({ owner: "alice", pad: "x".repeat(200) })),
  );
  assert.deepEqual(big, {
    allowed: false,
    rule: "z-size",
    reason: 'rule "z-size" rejected the write: too big',
  });
  assert.deepEqual(evaluateRules([], put("docs/1", "x")), { allowed: true });
});

test("the verdict does not depend on the order the rules are given in", () => {
  const values = [
    '{"owner":"alice"}',
    '{"owner":"bob"}',
    "text",
    JSON.stringify({ owner: "alice", p: "x".repeat(99) }),
  ];
  fc.assert(
    fc.property(
      fc.shuffledSubarray(rules, { minLength: 0 }),
      fc.constantFrom("docs/1", "docs/frozen/1", "other"),
      fc.constantFrom(...values),
      (subset, key, value) => {
        const input = put(key, value);
        const expected = evaluateRules(
          [...subset].sort((a, b) => (a.name < b.name ? -1 : 1)),
          input,
        );
        assert.deepEqual(evaluateRules([...subset].reverse(), input), expected);
        assert.deepEqual(evaluateRules(subset, input), expected);
      },
    ),
  );
});
