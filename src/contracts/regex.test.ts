import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { RE2JS } from "re2js";
import { MAX_PROGRAM_SIZE, programSizeBound, Regex, RegexSyntaxError } from "./regex.ts";

const matches = (pattern: string, s: string): boolean => new Regex(pattern).test(s);

test("RE2 syntax and partial-match semantics, as rules rely on them", () => {
  const cases: [string, string, boolean][] = [
    ["a+", "baaa", true],
    ["^a+$", "baaa", false],
    ["^users/[a-z0-9-]+/profile$", "users/bob-1/profile", true],
    ["^users/[a-z0-9-]+/profile$", "users/Bob/profile", false],
    ["(?i)^users/[a-z]+$", "USERS/BOB", true],
    ["a{2,3}", "xaax", true],
    ["^a{2}$", "aaa", false],
    ["a{,2}", "a{,2}", true], // not a count: literal, as in RE2
    ["\\d+\\.\\d+", "v1.25", true],
    ["[[:alpha:]]+", "123", false],
    ["\\bfoo\\b", "a foo b", true],
    ["\\bfoo\\b", "afoob", false],
    ["^(ab|cd)*$", "abcdab", true],
    ["^(ab|cd)*$", "abcda", false],
    ["^a+?b$", "aaab", true], // lazy quantifiers: same answer, a match is a match
    ["^(?U)a+$", "aaa", true],
    ["", "", true],
    ["a.c", "a\nc", false],
    ["(?s)a.c", "a\nc", true],
    ["(?m)^b$", "a\nb\nc", true],
    ["a$", "a\n", false], // RE2's $ is the end of text only (not before a final newline)
    ["[^abc]", "abcd", true],
    ["\\x41\\x{42}", "AB", true],
    ["^.$", "😀", true], // one code point, two UTF-16 units
    ["\\Qa.b\\E", "axb", false],
    ["(?P<n>a)(?<m>b)(?:c)", "abc", true],
    ["\\Aab\\z", "ab", true],
    ["(?i)straße", "STRAßE", true],
    ["(?i)k", "\u212a", true], // Kelvin sign folds to k (RE2's tables, not the runtime's)
    ["^\\pL+$", "héllo", true],
    ["^\\p{Greek}$", "α", true],
  ];
  for (const [pattern, s, want] of cases) {
    assert.equal(matches(pattern, s), want, `${pattern} on ${JSON.stringify(s)}`);
  }
});

test("what RE2 refuses is refused, saying what and where in the pattern", () => {
  const refused: [string, RegExp][] = [
    ["(a", /missing closing \) in `\(a`/],
    ["a)", /unexpected \)/],
    ["*a", /missing argument to repetition operator in `\*`/],
    ["a**", /invalid nested repetition operator in `\*\*`/],
    ["(?=a)", /invalid or unsupported Perl syntax/], // lookahead
    ["(?<!a)b", /invalid named capture/], // lookbehind (re2js's extension stays off)
    ["(a)\\1", /invalid escape sequence in `\\1`/], // backreference
    ["\\C", /invalid escape sequence/],
    ["[a", /missing closing \]/],
    ["a{1001}", /invalid repeat count in `\{1001\}`/],
    ["((a{1000}){1000})", /invalid repeat count/],
    ["[z-a]", /invalid character class range in `z-a`/],
    ["a\\", /trailing backslash/],
  ];
  for (const [pattern, why] of refused) {
    assert.throws(
      () => new Regex(pattern),
      (e: unknown) => {
        assert.ok(e instanceof RegexSyntaxError, pattern);
        assert.match(e.message, /^invalid regular expression: /, pattern);
        assert.match(e.message, why, pattern);
        return true;
      },
    );
  }
});

test("big programs are refused, the biggest without being compiled", () => {
  assert.ok(new Regex("[a-z]{1000}").size <= MAX_PROGRAM_SIZE);
  assert.throws(() => new Regex("(?:abcdef){1000}"), /pattern too large/); // compiled, then refused
  // Under 1 KiB of pattern, a million instructions: re2js would take most of a second.
  const huge = `(?:${"abcdefghij".repeat(100)}){1000}`;
  const start = performance.now();
  assert.throws(() => new Regex(huge), /pattern too large/);
  assert.throws(() => new Regex(`${huge}(`), /missing closing \)/, "a syntax error comes first");
  assert.ok(performance.now() - start < 200, "refused before compiling");
});

/** Valid RE2 patterns mixing the constructs the size bound must see through. */
const atomArb = fc.constantFrom(
  ...["a", "b", ".", "^", "$", "\\b", "\\d", "\\pL", "\\p{Greek}", "\\x41", "\\x{263a}", "\\123"],
  ...["\\(", "\\)", "\\{", "[ab]", "[^a]", "[]a]", "[^]a]", "[[:alpha:]]", "[[:^digit:](){}|]"],
  ...["[\\]a]", "[a-z\\x{41}-\\x{5a}]", "\\Qa(b)*{3}\\E", "\\Q)|(\\E", "{", "{,3}", "x{1,}", "😀"],
);
const quantifierArb = fc.constantFrom("*", "+", "?", "*?", "??", "{2}", "{0,3}", "{3,}", "{1,5}?");
const validArb: fc.Arbitrary<string> = fc.letrec<{ re: string }>((tie) => ({
  re: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    atomArb,
    fc.tuple(tie("re"), tie("re")).map(([x, y]) => x + y),
    fc
      .array(fc.oneof(fc.constant(""), tie("re")), { minLength: 2, maxLength: 5 })
      .map((branches) => branches.join("|")), // empty branches too: each is an instruction
    fc
      .tuple(fc.constantFrom("(", "(?:", "(?i:", "(?P<n>", "(?<m>", "(?i)(", "(?U)(?:"), tie("re"))
      .map(([g, x]) => `${g}${x})`),
    fc.tuple(tie("re"), quantifierArb).map(([x, q]) => `(?:${x})${q}`),
    fc.tuple(atomArb, quantifierArb).map(([x, q]) => x + q),
  ),
})).re;

test("the size bound is never below re2js's program size", () => {
  fc.assert(
    fc.property(validArb, (pattern) => {
      let size: number;
      try {
        size = RE2JS.compile(pattern).programSize();
      } catch {
        return; // the generator makes an invalid pattern now and then ({12,20} nesting past 1000)
      }
      assert.ok(programSizeBound(pattern) >= size, `${pattern}: ${size}`);
    }),
    { numRuns: 2000 },
  );
  for (const pattern of ["a||b||c", "(|a|){300}", "((((|))))", "(?:a|b|c){1000}", "[]a]{9}"]) {
    const size = new Regex(pattern).size;
    assert.ok(programSizeBound(pattern) >= size, `${pattern}: ${size}`);
  }
  for (const text of ["(", ")", "[", "\\", "\\x{", "a{", "((?", "[[:", "\\Q"]) {
    assert.ok(Number.isFinite(programSizeBound(text)), `terminates on ${text}`);
  }
});

test("catastrophic patterns for a backtracking engine take linear time", () => {
  const evil = `${"a".repeat(50_000)}b`;
  const start = performance.now();
  assert.equal(matches("(a+)+$", evil), false);
  assert.equal(matches("(a+)+b$", evil), true);
  assert.equal(matches("^(a|a)*$", evil), false);
  assert.equal(matches("(.*a){12}x", evil), false);
  assert.ok(performance.now() - start < 2_000, "linear, not exponential");
});

/** Patterns whose meaning is the same in RE2 and JavaScript, over an alphabet without newlines. */
const patternArb: fc.Arbitrary<string> = fc.letrec<{ re: string }>((tie) => ({
  re: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom("a", "b", ".", "[ab]", "[^a]", "\\w", "^", "$"),
    fc.tuple(tie("re"), tie("re")).map(([x, y]) => x + y),
    fc.tuple(tie("re"), tie("re")).map(([x, y]) => `(?:${x}|${y})`),
    fc
      .tuple(tie("re"), fc.constantFrom("*", "+", "?", "{2}", "{1,3}"))
      .map(([x, q]) => `(?:${x})${q}`),
  ),
})).re;

test("agrees with JavaScript's RegExp where their semantics coincide", () => {
  fc.assert(
    fc.property(patternArb, fc.stringMatching(/^[abc]{0,12}$/), (pattern, s) => {
      assert.equal(matches(pattern, s), new RegExp(pattern, "u").test(s), pattern);
    }),
    { numRuns: 500 },
  );
});
