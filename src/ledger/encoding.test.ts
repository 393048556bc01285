// The portable encodings against Node's own, and base64's one-spelling rule.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeBase64, decodeUtf8, encodeBase64, isWellFormedText } from "./encoding.ts";

describe("encoding", () => {
  it("writes and reads base64 as Node's Buffer does", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = encodeBase64(bytes);
        assert.equal(text, Buffer.from(bytes).toString("base64"));
        assert.deepEqual(decodeBase64(text), bytes);
      }),
    );
  });

  it("reads only canonical, padded base64", () => {
    assert.deepEqual(decodeBase64(""), new Uint8Array(0));
    assert.deepEqual(decodeBase64("AQI="), Uint8Array.of(1, 2));
    for (const text of [
      "AQJ=",
      "AR==",
      "AQI",
      "AQ",
      "AQ=",
      "A===",
      "AQI=\n",
      " AQI=",
      "AQ-_",
      "AQI=AQI=",
    ]) {
      assert.equal(decodeBase64(text), null, JSON.stringify(text));
    }
  });

  it("refuses invalid UTF-8 and lone surrogates", () => {
    assert.equal(decodeUtf8(Uint8Array.of(0xc3, 0xa9)), "é");
    assert.equal(decodeUtf8(Uint8Array.of(0xc3)), null);
    assert.equal(decodeUtf8(Uint8Array.of(0xed, 0xa0, 0x80)), null);
    assert.ok(isWellFormedText("a😀b"));
    assert.ok(!isWellFormedText("a\udc00b"));
  });
});
