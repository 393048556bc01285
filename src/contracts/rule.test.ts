import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { RuleDecodeError, RuleValidationError } from "./errors.ts";
import { createRule, decodeRule, encodeRule, type Rule, validateRule } from "./rule.ts";

const ownerOnly = createRule({
  name: "docs.owner-only",
  prefix: "docs/",
  expression: 'op == "delete" || value.json.owner == user',
  message: "only the owner may write a document",
});

const ruleArb: fc.Arbitrary<Rule> = fc
  .record({
    name: fc.stringMatching(/^[A-Za-z0-9._-]{1,128}$/),
    prefix: fc.uint8Array({ maxLength: 300 }),
    expression: fc.string({ unit: "grapheme", minLength: 1, maxLength: 200 }),
    message: fc.string({ unit: "grapheme", maxLength: 200 }),
  })
  .map((r) => ({ ...r }));

test("a rule round-trips through its encoding, which is canonical", () => {
  const bytes = encodeRule(ownerOnly);
  assert.deepEqual([...bytes.subarray(0, 4)], [0x71, 0x6d, 0x63, 1], "magic, then version 1");
  assert.deepEqual(decodeRule(bytes), ownerOnly);
  fc.assert(
    fc.property(ruleArb, (rule) => {
      const encoded = encodeRule(rule);
      const decoded = decodeRule(encoded);
      assert.deepEqual(decoded, rule);
      assert.deepEqual(encodeRule(decoded), encoded);
    }),
  );
});

test("prefixes are bytes: a string prefix is taken as UTF-8, and an empty one matches all", () => {
  const rule = createRule({ name: "all", prefix: "", expression: "true", message: "" });
  assert.deepEqual(rule.prefix, new Uint8Array(0));
  const binary = createRule({
    name: "bin",
    prefix: Uint8Array.of(0, 0xff),
    expression: "true",
    message: "",
  });
  assert.deepEqual(decodeRule(encodeRule(binary)).prefix, Uint8Array.of(0, 0xff));
  const accented = createRule({ name: "accents", prefix: "é/", expression: "true", message: "" });
  assert.deepEqual(accented.prefix, Uint8Array.of(0xc3, 0xa9, 0x2f));
});

test("decoding rejects garbage with a clear error", () => {
  const good = encodeRule(ownerOnly);
  const bad: [Uint8Array, RegExp][] = [
    [new Uint8Array(0), /truncated magic/],
    [new TextEncoder().encode('{"name":"x"}'), /bad magic/],
    [Uint8Array.of(0x71, 0x6d, 0x63, 2), /unknown format version 2/],
    [good.subarray(0, good.length - 1), /truncated message/],
    [Uint8Array.of(...good, 0), /trailing bytes/],
    // "qmc", version, name length 1 written in two bytes (0x81 0x00): not canonical.
    [Uint8Array.of(0x71, 0x6d, 0x63, 1, 0x81, 0x00), /non-canonical name length/],
    [Uint8Array.of(0x71, 0x6d, 0x63, 1, 1, 0xff, 0, 1, 0x74, 0), /name is not valid UTF-8/],
    [Uint8Array.of(0x71, 0x6d, 0x63, 1, 1, 0x2f, 0, 1, 0x74, 0), /may contain only/],
    [Uint8Array.of(0x71, 0x6d, 0x63, 1, 0, 0, 1, 0x74, 0), /name: must be 1 to 128/],
    [Uint8Array.of(0x71, 0x6d, 0x63, 1, 1, 0x78, 0, 0, 0), /expression: must be 1 to 4096/],
    [Uint8Array.of(0x71, 0x6d, 0x63, 1, 0xff, 0xff, 0xff, 0xff, 0x7f), /length too large/],
  ];
  for (const [bytes, why] of bad) {
    assert.throws(
      () => decodeRule(bytes),
      (e: unknown) => {
        assert.ok(e instanceof RuleDecodeError, String(e));
        assert.match(e.message, why);
        return true;
      },
    );
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        const rule = decodeRule(bytes);
        assert.deepEqual(encodeRule(rule), bytes, "whatever decodes is canonical");
      } catch (e) {
        assert.ok(e instanceof RuleDecodeError, String(e));
      }
    }),
  );
});

function refusal(fn: () => unknown): RuleValidationError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof RuleValidationError, String(e));
    return e;
  }
  assert.fail("expected a RuleValidationError");
}

test("validation names the field, says what is wrong, and where in the expression", () => {
  const rule = (over: Partial<Rule>): Rule => ({ ...ownerOnly, ...over });
  const syntax = refusal(() => validateRule(rule({ expression: "value.size >" })));
  assert.equal(syntax.field, "expression");
  assert.match(syntax.message, /Unexpected token: EOF/);
  assert.deepEqual(syntax.position, { line: 1, column: 13 });

  const notBool = refusal(() => validateRule(rule({ expression: "value.size + 1" })));
  assert.match(notBool.message, /must return bool, but returns int/);

  const dyn = refusal(() => validateRule(rule({ expression: "value.json.enabled" })));
  assert.match(dyn.message, /must return bool, but returns dyn \(compare it/);

  const typo = refusal(() =>
    validateRule(rule({ expression: "op == 'put' &&\n  value.sise < 10" })),
  );
  assert.match(typo.message, /No such key: sise/);
  assert.deepEqual(typo.position, { line: 2, column: 9 });

  const types = refusal(() => validateRule(rule({ expression: "key + 1 == 2" })));
  assert.match(types.message, /no such overload: string \+ int/);

  const unknown = refusal(() => validateRule(rule({ expression: "now() > 0" })));
  assert.match(unknown.message, /no matching overload for 'now\(\)'/);

  const regex = refusal(() => validateRule(rule({ expression: 'key.matches("a(b")' })));
  assert.match(regex.message, /invalid regular expression: missing closing \)/);
  assert.deepEqual(regex.position, { line: 1, column: 13 });

  assert.equal(refusal(() => validateRule(rule({ name: "" }))).field, "name");
  assert.equal(refusal(() => validateRule(rule({ name: "a/b" }))).field, "name");
  assert.equal(refusal(() => validateRule(rule({ name: "x".repeat(129) }))).field, "name");
  assert.equal(refusal(() => validateRule(rule({ prefix: new Uint8Array(1901) }))).field, "prefix");
  assert.equal(refusal(() => validateRule(rule({ message: "m".repeat(1025) }))).field, "message");
  assert.equal(refusal(() => validateRule(rule({ message: "\uD800" }))).field, "message");
  assert.match(
    refusal(() => validateRule(rule({ expression: " " }))).message,
    /must be 1 to|empty/,
  );
  const long = `${"true && ".repeat(600)}true`;
  assert.match(refusal(() => validateRule(rule({ expression: long }))).message, /4096/);
});
