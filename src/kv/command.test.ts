import assert from "node:assert/strict";
import { test } from "node:test";
import { CommandDecodeError, decodeCommand, encodeCommand } from "./command.ts";
import { b, put, txn } from "./test_util.ts";
import type { Command } from "./types.ts";

const samples: Command[] = [
  put("k", "v", { lease: 2 ** 40 + 3, prevKv: true, ignoreLease: false }),
  { op: "deleteRange", key: b("a"), rangeEnd: Uint8Array.of(0), prevKv: true },
  txn(
    [
      { target: "value", result: "not_equal", key: b("a"), rangeEnd: b(""), value: b("x") },
      { target: "lease", result: "greater", key: b("a"), rangeEnd: b("b"), number: 7 },
      { target: "mod", result: "less", key: b("a"), rangeEnd: b(""), number: 300 },
    ],
    [
      {
        op: "range",
        key: b("a"),
        rangeEnd: b("z"),
        revision: 5,
        limit: 10,
        sortOrder: "descend",
        sortTarget: "value",
        countOnly: false,
        keysOnly: true,
        minModRevision: 1,
        maxModRevision: 0,
        minCreateRevision: 2,
        maxCreateRevision: 9,
      },
      txn([], [put("n", "m")], []),
    ],
    [{ op: "deleteRange", key: b("q"), rangeEnd: b(""), prevKv: false }],
  ),
  { op: "compact", revision: 123456789 },
  { op: "leaseGrant", id: Number.MAX_SAFE_INTEGER, ttlSeconds: 60 },
  { op: "leaseRevoke", id: 1 },
];

test("every command kind round-trips byte-exactly, values stay bytes", () => {
  for (const c of samples) {
    const bytes = encodeCommand(c);
    assert.equal(bytes[0], 1, "format version first");
    assert.deepEqual(decodeCommand(bytes), c);
  }
  const bin = put("k", "");
  bin.value = Uint8Array.of(0, 255, 128, 10);
  assert.deepEqual((decodeCommand(encodeCommand(bin)) as typeof bin).value, bin.value);
});

test("malformed input throws CommandDecodeError", () => {
  const good = encodeCommand(samples[2]!);
  for (let cut = 0; cut < good.length; cut++) {
    assert.throws(() => decodeCommand(good.subarray(0, cut)), CommandDecodeError, `cut ${cut}`);
  }
  assert.throws(() => decodeCommand(Uint8Array.of(2, 1)), CommandDecodeError);
  assert.throws(() => decodeCommand(Uint8Array.of(1, 99)), CommandDecodeError);
  assert.throws(() => decodeCommand(Uint8Array.of(...good, 0)), CommandDecodeError);
  const range = encodeCommand(samples[2]!);
  assert.ok(range.length > 0);
});
