import assert from "node:assert/strict";
import { test } from "node:test";
import { prefixEnd } from "./bytes.ts";
import { b } from "./test_util.ts";

test("prefixEnd: the next prefix, to the end for 0xff bytes, never changing its input", () => {
  const prefix = Buffer.from("a/");
  assert.deepEqual(prefixEnd(prefix), b("a0"));
  assert.equal(prefix.toString(), "a/", "a Buffer's bytes are not changed");
  assert.deepEqual(prefixEnd(Uint8Array.of(0x61, 0xff)), b("b"));
  assert.deepEqual(prefixEnd(Uint8Array.of(0xff, 0xff)), Uint8Array.of(0));
});
