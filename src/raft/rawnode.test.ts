// The Ready/advance handshake when inputs arrive between ready() and advance().
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { message } from "./raft.ts";
import { SeededRandom } from "./random.ts";
import { RawNode } from "./rawnode.ts";
import { MemoryStorage } from "./storage.ts";
import { type Entry, EntryType, MessageType } from "./types.ts";

function entry(index: number, term: number): Entry {
  return { index, term, type: EntryType.Normal, data: new Uint8Array([index]) };
}

describe("RawNode: a snapshot arriving while the last Ready is being applied", () => {
  it("is ignored until advance(), then installed when the leader sends it again", () => {
    const storage = new MemoryStorage({ voters: [1, 2, 3] });
    const node = new RawNode({ id: 2, storage, random: new SeededRandom(2) });
    // Leader 1 of term 2 replicates entries 4..6 and commits them.
    node.step(
      message({
        type: MessageType.Append,
        to: 2,
        from: 1,
        term: 2,
        index: 3,
        logTerm: 1,
        entries: [entry(4, 2), entry(5, 2), entry(6, 2)],
        commit: 6,
      }),
    );
    const ready = node.ready();
    assert.deepEqual(
      ready.committedEntries.map((e) => e.index),
      [1, 2, 3, 4, 5, 6],
    );
    // While the caller persists and applies, a snapshot at 20 arrives.
    const snapshot = {
      metadata: {
        index: 20,
        term: 2,
        confState: {
          voters: [1, 2, 3],
          votersOutgoing: [],
          learners: [],
          learnersNext: [],
          autoLeave: false,
        },
      },
      data: new Uint8Array(0),
    };
    node.step(message({ type: MessageType.InstallSnapshot, to: 2, from: 1, term: 2, snapshot }));
    storage.append(ready.entries);
    node.advance();
    const next = node.ready();
    assert.equal(
      next.snapshot,
      null,
      "the snapshot must not change the config under entries being applied",
    );
    const responses = next.messagesAfterPersist.filter(
      (m) => m.type === MessageType.AppendResponse,
    );
    // The refusal answers with what this member has committed: it does not claim the snapshot.
    assert.deepEqual(
      responses.map((m) => m.index),
      [6],
    );
    node.advance();
    // Sent again once nothing is being applied, it is installed.
    node.step(message({ type: MessageType.InstallSnapshot, to: 2, from: 1, term: 2, snapshot }));
    const third = node.ready();
    assert.equal(third.snapshot?.metadata.index, 20);
    assert.equal(third.messagesAfterPersist.at(-1)?.index, 20);
  });
});
