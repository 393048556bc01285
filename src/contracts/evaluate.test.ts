import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { COST_LIMIT, clearCompileCache, compileExpression } from "./compile.ts";
import { RuleValidationError } from "./errors.ts";
import { evaluate, type Verdict } from "./evaluate.ts";
import { createRule, type Rule } from "./rule.ts";
import type { WriteInput } from "./variables.ts";

const enc = new TextEncoder();

function write(
  key: string,
  value: string | Uint8Array | null,
  options: Partial<Omit<WriteInput, "key" | "value" | "prev">> & {
    prev?: string | Uint8Array | null;
  } = {},
): WriteInput {
  const bytes = (v: string | Uint8Array | null | undefined) =>
    v === null || v === undefined ? null : typeof v === "string" ? enc.encode(v) : v;
  return {
    key: enc.encode(key),
    value: bytes(value),
    prev: bytes(options.prev),
    lease: options.lease ?? 0,
    user: options.user ?? "alice",
    revision: options.revision ?? 42,
    op: options.op ?? (value === null ? "delete" : "put"),
  };
}

function rule(expression: string, message = "rejected"): Rule {
  return createRule({ name: "test-rule", prefix: "", expression, message });
}

function allowed(expression: string, input: WriteInput): boolean {
  const verdict = evaluate(rule(expression), input);
  return verdict.allowed;
}

function reason(verdict: Verdict): string {
  assert.equal(verdict.allowed, false, "expected a rejection");
  return verdict.allowed ? "" : verdict.reason;
}

test("JSON ownership: the owner field must name the writing user", () => {
  const owner = "value.json.owner == user && (prev == null || prev.json.owner == user)";
  assert.ok(allowed(owner, write("docs/1", '{"owner":"alice","title":"x"}')));
  assert.ok(!allowed(owner, write("docs/1", '{"owner":"bob"}')));
  assert.ok(!allowed(owner, write("docs/1", '{"owner":"alice"}', { prev: '{"owner":"bob"}' })));
  assert.ok(allowed(owner, write("docs/1", '{"owner":"bob"}', { user: "bob" })));
});

test("schema-ish checks: required fields, types, enumerations, list contents", () => {
  const schema = [
    "has(value.json.title) && type(value.json.title) == string && value.json.title.size() <= 20",
    'value.json.status in ["draft", "published"]',
    'value.json.tags.all(t, t.matches("^[a-z]+$"))',
    "value.json.priority >= 1.0 && value.json.priority <= 5.0",
  ].join(" && ");
  const doc = (over: object) =>
    JSON.stringify({ title: "Hello", status: "draft", tags: ["a", "b"], priority: 3, ...over });
  assert.ok(allowed(schema, write("docs/1", doc({}))));
  assert.ok(!allowed(schema, write("docs/1", doc({ status: "deleted" }))));
  assert.ok(!allowed(schema, write("docs/1", doc({ tags: ["ok", "Not-OK"] }))));
  assert.ok(!allowed(schema, write("docs/1", doc({ priority: 9 }))));
  assert.ok(!allowed(schema, write("docs/1", doc({ title: "x".repeat(21) }))));
});

test("size limits, write-once keys, key format, lease and revision", () => {
  assert.ok(allowed("value.size <= 4", write("k", "1234")));
  assert.ok(!allowed("value.size <= 4", write("k", "12345")));
  assert.ok(allowed("prev == null", write("once/a", "v")));
  const again = evaluate(
    rule("prev == null", "keys under once/ are write-once"),
    write("once/a", "w", { prev: "v" }),
  );
  assert.deepEqual(again, {
    allowed: false,
    rule: "test-rule",
    reason: 'rule "test-rule" rejected the write: keys under once/ are write-once',
  });
  const format = 'key.matches("^users/[a-z][a-z0-9_]{2,15}/profile$")';
  assert.ok(allowed(format, write("users/alice_1/profile", "{}")));
  assert.ok(!allowed(format, write("users/Alice/profile", "{}")));
  assert.ok(!allowed(format, write("users/alice/profile/x", "{}")));
  assert.ok(allowed("lease != 0", write("sessions/1", "v", { lease: 7 })));
  assert.ok(!allowed("lease != 0", write("sessions/1", "v")));
  assert.ok(allowed('revision == 42 && op == "put" && key_bytes == b"k"', write("k", "v")));
});

test("deletes: value is null, op is delete, prev is what is deleted", () => {
  const del = write("docs/1", null, { prev: '{"owner":"alice","locked":true}' });
  assert.ok(allowed('op == "delete" && value == null', del));
  assert.ok(!allowed("!prev.json.locked", del));
  assert.ok(allowed('op == "delete" || value.size < 10', del));
  // A rule written only for puts errors on a delete, and that rejects the delete (fail closed).
  assert.match(reason(evaluate(rule("value.size < 10"), del)), /failed: No such key: size/);
});

test("values that are not JSON: json is null, bytes and string still work", () => {
  const binary = write("blobs/1", Uint8Array.of(0xff, 0x00, 0xfe));
  assert.ok(allowed("value.json == null && value.size == 3", binary));
  assert.ok(allowed('value.bytes == b"\\xff\\x00\\xfe"', binary));
  assert.ok(allowed('value.string.startsWith("\\ufffd")', binary), "lossy UTF-8, deterministic");
  assert.ok(allowed("value.json == null", write("t/1", "hello world")));
  assert.ok(allowed('value.json == "hello"', write("t/1", '"hello"')));
  assert.ok(allowed("value.json == null", write("t/1", `${"[".repeat(70)}${"]".repeat(70)}`)));
  assert.ok(allowed("value.json != null", write("t/1", `${"[".repeat(60)}${"]".repeat(60)}`)));
  // Buffers (as LMDB returns them) behave as plain bytes.
  const buffered = { ...write("b/1", null), value: Buffer.from("{}"), op: "put" as const };
  assert.ok(allowed('value.json == {} && value.bytes == b"{}"', buffered));
});

test("a rule that errors at run time rejects the write and says which rule and why", () => {
  const noField = evaluate(rule("value.json.owner == user"), write("docs/1", '{"title":"x"}'));
  assert.equal(reason(noField), 'rule "test-rule" failed: No such key: owner (line 1, column 12)');
  assert.match(
    reason(evaluate(rule("value.json.owner == user"), write("d", "not json"))),
    /No such key: owner/,
  );
  assert.match(
    reason(evaluate(rule("value.json.n + 1 > 0"), write("d", '{"n":1}'))),
    /no such overload/,
  );
  assert.match(
    reason(evaluate(rule("1 / (value.size - 1) > 0"), write("d", "x"))),
    /division by zero/,
  );
  assert.match(
    reason(evaluate(rule("key.matches(value.string)"), write("d", "a(b"))),
    /invalid regular expression: missing closing \)/,
  );
});

test("the cost limit stops a pathological rule quickly, before it runs", () => {
  const hundred = `[${Array.from({ length: 100 }, (_, i) => i).join(",")}]`;
  // 100^3 iterations can never fit: refused when the rule is set.
  assert.throws(
    () => rule(`${hundred}.all(a, ${hundred}.all(b, ${hundred}.all(c, a + b + c >= 0)))`),
    (e: unknown) => e instanceof RuleValidationError && /too expensive/.test(e.message),
  );
  // Cheap for small values, too expensive for this one: rejected for this write only.
  const quadratic = rule("value.json.all(a, value.json.all(b, a + b >= 0.0))");
  assert.ok(evaluate(quadratic, write("d", "[1,2,3]")).allowed);
  const big = JSON.stringify(Array.from({ length: 5_000 }, (_, i) => i));
  const start = performance.now();
  const verdict = evaluate(quadratic, write("d", big));
  const elapsed = performance.now() - start;
  assert.match(
    reason(verdict),
    new RegExp(`cost limit exceeded: .* over the limit of ${COST_LIMIT}`),
  );
  assert.ok(elapsed < 1_000, `rejected without running (${elapsed.toFixed(1)} ms)`);
  // A regex that would take exponential time in a backtracking engine is linear here.
  const redos = rule('value.string.matches("^(a+)+$")');
  assert.ok(!evaluate(redos, write("d", `${"a".repeat(5_000)}!`)).allowed);
});

test("matches() is RE2 everywhere, inside comprehensions and cel.bind too", () => {
  // (?i) is RE2 syntax that JavaScript's RegExp refuses: these only pass on the RE2 engine.
  const input = write("k", '{"tags":["a","B"]}');
  assert.ok(allowed('value.json.tags.all(t, t.matches("(?i)^[a-z]$"))', input));
  assert.ok(allowed('cel.bind(x, "A", x.matches("(?i)a"))', input));
  assert.ok(allowed('value.json.tags.exists_one(t, matches(t, "(?i)^b$"))', input));
  // RE2's $ is the end of the text, also when the text ends in a newline.
  assert.ok(!allowed('value.string.matches("a$")', write("k", "a\n")));
});

test("no clock, no randomness: such functions do not exist or are refused", () => {
  for (const expression of [
    "now() > 0",
    "timestamp(0) != null",
    'timestamp("2024-01-01T00:00:00Z").getHours() == 0',
    "random() > 0.5",
    "value.bytes.json() == null",
  ]) {
    assert.throws(() => compileExpression(expression), RuleValidationError, expression);
  }
  assert.ok(allowed('duration("90m").getHours() == 1', write("d", "v")), "durations are pure");
});

const inputArb: fc.Arbitrary<WriteInput> = fc.record({
  key: fc.oneof(
    fc.stringMatching(/^(docs|users)\/[a-zA-Z0-9_]{0,12}$/).map((s) => enc.encode(s)),
    fc.uint8Array({ maxLength: 12 }),
  ),
  value: fc.option(
    fc.oneof(
      fc
        .record({
          owner: fc.constantFrom("alice", "bob"),
          n: fc.integer(),
          tags: fc.array(fc.string()),
        })
        .map((o) => enc.encode(JSON.stringify(o))),
      fc.uint8Array({ maxLength: 20 }),
    ),
  ),
  prev: fc.option(fc.uint8Array({ maxLength: 20 })),
  lease: fc.nat(),
  user: fc.constantFrom("", "alice", "bob"),
  revision: fc.integer({ min: 1, max: 1_000_000 }),
  op: fc.constantFrom("put" as const, "delete" as const),
});

const DETERMINISM_RULES = [
  'value.json.owner == user && value.json.tags.all(t, t.size() < 5) && key.matches("^docs/")',
  "prev == null || prev.size < value.size",
  'op == "delete" || (value.json != null && value.json.n > 0.0)',
  'key.startsWith("users/") && user != "" && lease % 2 == 0 && revision > 10',
];

test("determinism: the same input gives the same verdict, cached or freshly compiled", () => {
  fc.assert(
    fc.property(inputArb, fc.constantFrom(...DETERMINISM_RULES), (input, expression) => {
      const r = rule(expression);
      const first = evaluate(r, input);
      assert.deepEqual(evaluate(r, input), first, "repeated");
      assert.deepEqual(evaluate(r, { ...input }), first, "a fresh but equal input");
      clearCompileCache();
      assert.deepEqual(evaluate(r, { ...input }), first, "a fresh compile");
    }),
    { numRuns: 200 },
  );
});
