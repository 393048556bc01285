// C2SP tlog-checkpoint: the spec's example, round trips (exact, both ways), and a clear
// refusal for each malformed line.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type Checkpoint,
  CheckpointFormatError,
  formatCheckpoint,
  parseCheckpoint,
} from "./checkpoint.ts";
import { decodeBase64 } from "./encoding.ts";
import { EMPTY_ROOT } from "./merkle.ts";

// c2sp.org/tlog-checkpoint, the example at the top.
const SPEC_BODY =
  "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

describe("tlog-checkpoint", () => {
  it("parses the spec's example", () => {
    const checkpoint = parseCheckpoint(SPEC_BODY);
    assert.equal(checkpoint.origin, "example.com/behind-the-sofa");
    assert.equal(checkpoint.size, 20852163);
    assert.deepEqual(
      checkpoint.rootHash,
      decodeBase64("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="),
    );
    assert.deepEqual(checkpoint.extensions, []);
    assert.equal(formatCheckpoint(checkpoint), SPEC_BODY);
  });

  it("formats the empty tree with size 0", () => {
    const body = formatCheckpoint({ origin: "o", size: 0, rootHash: EMPTY_ROOT, extensions: [] });
    assert.equal(body, "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
    assert.equal(parseCheckpoint(body).size, 0);
  });

  it("round-trips any checkpoint, extension lines included", () => {
    const line = fc
      .string({ unit: fc.integer({ min: 0x20, max: 0xd7ff }).map((c) => String.fromCharCode(c)) })
      .filter((text) => text.length > 0);
    const checkpoints = fc
      .record({
        origin: line,
        size: fc.maxSafeNat(),
        rootHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        extensions: fc.array(line, { maxLength: 3 }),
      })
      .map((record): Checkpoint => ({ ...record }));
    fc.assert(
      fc.property(checkpoints, (checkpoint) => {
        const body = formatCheckpoint(checkpoint);
        assert.deepEqual(parseCheckpoint(body), checkpoint);
        assert.equal(formatCheckpoint(parseCheckpoint(body)), body);
      }),
    );
  });

  const root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
  const cases: [string, string, RegExp][] = [
    ["no final newline", `o\n1\n${root}`, /does not end in a newline/],
    ["two lines", "o\n1\n", /2 line\(s\), fewer than origin, tree size and root hash/],
    ["an empty origin", `\n1\n${root}\n`, /line 1 is empty/],
    ["a word for a size", `o\nten\n${root}\n`, /line 2 is not a tree size: "ten"/],
    ["a leading zero", `o\n010\n${root}\n`, /line 2 is not a tree size: "010"/],
    ["a negative size", `o\n-1\n${root}\n`, /line 2 is not a tree size/],
    ["a size with a sign", `o\n+1\n${root}\n`, /line 2 is not a tree size/],
    ["a size past 2^53", `o\n9007199254740993\n${root}\n`, /above 2\^53 - 1/],
    ["a short root hash", "o\n1\nAAAA\n", /line 3 is not a root hash \(the base64 of 32 bytes\)/],
    ["a hex root hash", `o\n1\n${"ab".repeat(32)}\n`, /line 3 is not a root hash/],
    ["non-canonical base64", `o\n1\n${root.replace("I=", "J=")}\n`, /line 3 is not a root hash/],
    ["an empty extension line", `o\n1\n${root}\next\n\n`, /line 5 is empty/],
    ["a control character", `o\n1\n${root}\nex\tt\n`, /line 4 holds a control character/],
    ["CRLF line endings", `o\r\n1\r\n${root}\r\n`, /line 1 holds a control character/],
  ];
  for (const [what, text, message] of cases) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => parseCheckpoint(text),
        (error: unknown) =>
          error instanceof CheckpointFormatError &&
          error.message.startsWith("not a checkpoint: ") &&
          message.test(error.message),
      );
    });
  }

  it("refuses to format what it would refuse to parse", () => {
    const good: Checkpoint = { origin: "o", size: 1, rootHash: EMPTY_ROOT, extensions: [] };
    const bad: [Partial<Checkpoint>, RegExp][] = [
      [{ origin: "" }, /the origin is empty/],
      [{ origin: "a\nb" }, /the origin holds a control character/],
      [{ size: -1 }, /tree size -1 is not a count/],
      [{ size: 1.5 }, /tree size 1.5 is not a count/],
      [{ rootHash: new Uint8Array(31) }, /31 bytes, not 32/],
      [{ extensions: [""] }, /extension line 1 is empty/],
    ];
    for (const [change, message] of bad) {
      assert.throws(() => formatCheckpoint({ ...good, ...change }), message);
    }
  });
});
