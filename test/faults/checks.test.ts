// The run checks must fail on the histories they exist to catch; each case is the smallest
// history with that bug.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KvOperation } from "../../src/check/index.ts";
import { availability } from "./availability.ts";
import {
  checkAcknowledgedWrites,
  checkConvergence,
  checkLinearizable,
  checkSerializableReads,
  checkWatch,
} from "./checks.ts";
import type { WatchRecord } from "./worker_protocol.ts";

function op(fields: Partial<KvOperation> & Pick<KvOperation, "op" | "call">): KvOperation {
  return {
    client: 1,
    key: "k0",
    value: null,
    expect: null,
    ok: null,
    output: null,
    return: fields.call + 1,
    ...fields,
  };
}

const opened = (startRevision: number): WatchRecord => ({
  kind: "opened",
  startRevision,
  endpoint: "e",
});
const put = (revision: number, key: string, value: string): WatchRecord => ({
  kind: "event",
  revision,
  key,
  type: "put",
  value,
});

describe("fault run checks", () => {
  it("a stale read after an acknowledged write is not linearizable", () => {
    const history = [
      op({ op: "put", value: "a", call: 0 }),
      op({ op: "put", value: "b", call: 10 }),
      op({ op: "get", output: "a", call: 20, client: 2 }),
    ];
    assert.equal(checkLinearizable(history).problems.length, 1);
    assert.equal(checkLinearizable(history.slice(0, 2)).problems.length, 0);
  });

  it("an acknowledged write missing on one member is reported with the member", () => {
    const history = [op({ op: "put", key: "u1-1", value: "x", call: 0 })];
    const finals = new Map([
      ["n1", new Map([["u1-1", "x"]])],
      ["n2", new Map<string, string>()],
    ]);
    const { problems } = checkAcknowledgedWrites(history, finals);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /u1-1=x .* missing on n2/);
    // An unknown outcome is not an acknowledgement.
    const unknown = [op({ op: "put", key: "u1-1", value: "x", call: 0, return: null })];
    assert.deepEqual(checkAcknowledgedWrites(unknown, finals).problems, []);
  });

  it("members that differ in a key or in their hash do not converge", () => {
    const same = new Map([
      ["n1", new Map([["k0", "a"]])],
      ["n2", new Map([["k0", "a"]])],
    ]);
    assert.deepEqual(
      checkConvergence(
        same,
        new Map([
          ["n1", "1@5"],
          ["n2", "1@5"],
        ]),
      ).problems,
      [],
    );
    const differ = new Map([...same, ["n3", new Map([["k0", "b"]])]]);
    assert.match(checkConvergence(differ, new Map()).problems[0]!, /n3 differs from n1 on 1 keys/);
    assert.match(
      checkConvergence(
        same,
        new Map([
          ["n1", "1@5"],
          ["n2", "2@5"],
        ]),
      ).problems[0]!,
      /state hashes differ/,
    );
  });

  it("a serializable read of a value never written to that key is reported", () => {
    const history = [op({ op: "put", key: "k0", value: "a", call: 0, return: null })];
    const fine = [op({ op: "get", key: "k0", output: "a", call: 5 })];
    const invented = [op({ op: "get", key: "k1", output: "a", call: 5 })];
    assert.deepEqual(checkSerializableReads(fine, history).problems, []);
    assert.equal(checkSerializableReads(invented, history).problems.length, 1);
  });

  it("a watch with a gap, a repeat or a short end fails; a complete one replays to the store", () => {
    const final = new Map([["k0", "b"]]);
    const complete = [opened(2), put(2, "k0", "a"), put(3, "k0", "b")];
    assert.deepEqual(checkWatch("w", complete, 3, final).problems, []);
    const gap = [opened(2), put(2, "k0", "a"), put(4, "k0", "b")];
    assert.match(checkWatch("w", gap, 4, final).problems[0]!, /revisions 3–3 were never delivered/);
    const repeat = [...complete, put(3, "k0", "b")];
    assert.match(checkWatch("w", repeat, 3, final).problems[0]!, /seen again or out of order/);
    assert.match(checkWatch("w", complete, 5, final).problems[0]!, /stopped at revision 3/);
    const wrongValue = new Map([["k0", "c"]]);
    assert.match(checkWatch("w", complete, 3, wrongValue).problems[0]!, /replaying the watch/);
  });

  it("availability counts the half-second slices with an acknowledged write", () => {
    const second = 1_000_000_000;
    assert.equal(availability([0.1 * second, 1.2 * second], [[0, 2 * second]]), 0.5);
    assert.equal(availability([], []), 1);
  });
});
