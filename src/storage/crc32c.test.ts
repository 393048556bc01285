import assert from "node:assert/strict";
import { test } from "node:test";
import { crc32c } from "./crc32c.ts";

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

test("crc32c matches the published check values", () => {
  assert.equal(crc32c(ascii("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test("crc32c continues across chunks of every split point", () => {
  const data = new Uint8Array(100).map((_, i) => (i * 31 + 7) & 0xff);
  const whole = crc32c(data);
  for (let split = 0; split <= data.length; split++) {
    assert.equal(crc32c(data.subarray(split), crc32c(data.subarray(0, split))), whole);
  }
});
