import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KvCommand } from "./command.ts";
import { decodeCommand, encodeCommand } from "./command.ts";
import { KvStore } from "./kv_store.ts";

function command(fields: Partial<KvCommand> & Pick<KvCommand, "sequence" | "op">): KvCommand {
  return { clientId: 1, key: "k", value: null, expect: null, ...fields };
}

describe("KvStore", () => {
  it("puts, deletes and compares-and-swaps", () => {
    const store = new KvStore();
    assert.deepEqual(
      store.apply(command({ sequence: 1, op: "cas", expect: null, value: "a" })).result,
      { ok: true },
    );
    assert.equal(store.get("k"), "a");
    assert.deepEqual(
      store.apply(command({ sequence: 2, op: "cas", expect: "x", value: "b" })).result,
      { ok: false },
    );
    assert.equal(store.get("k"), "a");
    store.apply(command({ sequence: 3, op: "put", value: "c" }));
    assert.equal(store.get("k"), "c");
    store.apply(command({ sequence: 4, op: "delete" }));
    assert.equal(store.get("k"), null);
  });

  it("applies a client's command once: duplicates and overtaken retries are dropped", () => {
    const store = new KvStore();
    store.apply(command({ sequence: 5, op: "put", value: "five" }));
    assert.equal(store.apply(command({ sequence: 5, op: "put", value: "five" })).result, null);
    assert.equal(store.apply(command({ sequence: 4, op: "put", value: "four" })).result, null);
    assert.equal(store.get("k"), "five");
    // Another client's sequence numbers are its own.
    assert.notEqual(
      store.apply(command({ clientId: 2, sequence: 1, op: "put", value: "two" })).result,
      null,
    );
  });

  it("snapshots to bytes and back with the same state, sessions included", () => {
    const store = new KvStore();
    store.apply(command({ sequence: 1, op: "put", key: "b", value: "1" }));
    store.apply(command({ clientId: 2, sequence: 7, op: "put", key: "a", value: "2" }));
    const copy = KvStore.decode(store.encode());
    assert.equal(copy.canonicalText(), store.canonicalText());
    assert.equal(
      copy.apply(command({ clientId: 2, sequence: 7, op: "put", key: "a", value: "x" })).result,
      null,
    );
  });

  it("encodes commands into entry data and back", () => {
    const original = command({ sequence: 9, op: "cas", expect: "old", value: "new" });
    assert.deepEqual(decodeCommand(encodeCommand(original)), original);
    assert.equal(decodeCommand(new Uint8Array(0)), null);
  });
});
