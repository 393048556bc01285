// Unit tests of MemoryStorage: the durable log the core reads back (etcd's storage_test.go).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeConfChange } from "./confchange/index.ts";
import {
  LogCompactedError,
  LogUnavailableError,
  RaftInvariantError,
  SnapshotOutOfDateError,
} from "./errors.ts";
import { MemoryStorage } from "./storage.ts";
import { ConfChangeType, type ConfState, type Entry, EntryType, type Snapshot } from "./types.ts";
import { ENTRY_OVERHEAD_BYTES } from "./util.ts";

const CONF: ConfState = {
  voters: [1, 2, 3],
  votersOutgoing: [],
  learners: [],
  learnersNext: [],
  autoLeave: false,
};

function entry(index: number, term: number, data = ""): Entry {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(data) };
}

/** Entries first..first+terms.length-1 with the given terms. */
function entries(first: number, terms: number[], data = ""): Entry[] {
  return terms.map((term, i) => entry(first + i, term, data));
}

function indexesAndTerms(list: readonly Entry[]): string[] {
  return list.map((e) => `${e.index}:${e.term}`);
}

/** Storage holding a snapshot (dummy) at `dummyIndex`/`dummyTerm` followed by entries of `terms`. */
function storageWith(dummyIndex: number, dummyTerm: number, terms: number[]): MemoryStorage {
  const storage = new MemoryStorage();
  if (dummyIndex > 0) {
    storage.applySnapshot({
      metadata: { index: dummyIndex, term: dummyTerm, confState: CONF },
      data: new Uint8Array(0),
    });
  }
  storage.append(entries(dummyIndex + 1, terms));
  return storage;
}

function allTerms(storage: MemoryStorage): string[] {
  const out: string[] = [];
  for (let i = storage.firstIndex() - 1; i <= storage.lastIndex(); i++) {
    out.push(`${i}:${storage.term(i)}`);
  }
  return out;
}

describe("MemoryStorage: a new storage", () => {
  it("is empty: firstIndex 1, lastIndex 0, the term of index 0 is 0", () => {
    const storage = new MemoryStorage();
    assert.equal(storage.firstIndex(), 1);
    assert.equal(storage.lastIndex(), 0);
    assert.equal(storage.term(0), 0);
    assert.throws(() => storage.term(1), LogUnavailableError);
    assert.throws(() => storage.entries(1, 2, Number.POSITIVE_INFINITY), LogUnavailableError);
  });

  it("bootstraps a new cluster's membership as committed conf change entries of term 1", () => {
    const storage = new MemoryStorage({ voters: [1, 2, 3], learners: [4] });
    const { hardState, confState } = storage.initialState();
    assert.deepEqual(hardState, { term: 1, vote: 0, commit: 4 });
    // The snapshot at index 0 knows nobody: the membership is in the log, so that a member
    // joining later learns it from the log like any other conf change.
    assert.deepEqual(confState.voters, []);
    const changes = storage
      .entries(1, 5, Number.POSITIVE_INFINITY)
      .map((e) => ({ term: e.term, type: e.type, change: decodeConfChange(e.data).changes }));
    assert.deepEqual(changes, [
      {
        term: 1,
        type: EntryType.ConfChange,
        change: [{ type: ConfChangeType.AddNode, nodeId: 1 }],
      },
      {
        term: 1,
        type: EntryType.ConfChange,
        change: [{ type: ConfChangeType.AddNode, nodeId: 2 }],
      },
      {
        term: 1,
        type: EntryType.ConfChange,
        change: [{ type: ConfChangeType.AddNode, nodeId: 3 }],
      },
      {
        term: 1,
        type: EntryType.ConfChange,
        change: [{ type: ConfChangeType.AddLearnerNode, nodeId: 4 }],
      },
    ]);
  });

  it("a member that joins later starts with an empty membership", () => {
    const storage = new MemoryStorage();
    assert.deepEqual(storage.initialState().confState.voters, []);
  });

  it("keeps the hard state it is given", () => {
    const storage = new MemoryStorage();
    storage.setHardState({ term: 3, vote: 2, commit: 0 });
    assert.deepEqual(storage.initialState().hardState, { term: 3, vote: 2, commit: 0 });
  });
});

describe("MemoryStorage.term", () => {
  // dummy 3:3, then 4:4, 5:5
  const storage = storageWith(3, 3, [4, 5]);
  const cases: Array<{
    index: number;
    want: number | typeof LogCompactedError | typeof LogUnavailableError;
  }> = [
    { index: 2, want: LogCompactedError },
    { index: 3, want: 3 },
    { index: 4, want: 4 },
    { index: 5, want: 5 },
    { index: 6, want: LogUnavailableError },
  ];
  for (const { index, want } of cases) {
    it(`term(${index}) of a log compacted at 3 with entries up to 5`, () => {
      if (typeof want === "number") assert.equal(storage.term(index), want);
      else assert.throws(() => storage.term(index), want);
    });
  }

  it("the thrown errors name the requested index", () => {
    assert.throws(
      () => storage.term(2),
      (error: unknown) => error instanceof LogCompactedError && error.requestedIndex === 2,
    );
    assert.throws(
      () => storage.term(9),
      (error: unknown) => error instanceof LogUnavailableError && error.requestedIndex === 9,
    );
  });
});

describe("MemoryStorage.entries", () => {
  // dummy 3:3, then 4:4, 5:5, 6:6; every payload 10 bytes.
  const sized = 10 + ENTRY_OVERHEAD_BYTES;
  function build(): MemoryStorage {
    const storage = new MemoryStorage();
    storage.applySnapshot({
      metadata: { index: 3, term: 3, confState: CONF },
      data: new Uint8Array(0),
    });
    storage.append(entries(4, [4, 5, 6], "0123456789"));
    return storage;
  }
  const cases: Array<{
    low: number;
    high: number;
    maxBytes: number;
    want: string[] | typeof LogCompactedError | typeof LogUnavailableError;
  }> = [
    { low: 2, high: 6, maxBytes: Number.POSITIVE_INFINITY, want: LogCompactedError },
    { low: 3, high: 4, maxBytes: Number.POSITIVE_INFINITY, want: LogCompactedError },
    { low: 4, high: 5, maxBytes: Number.POSITIVE_INFINITY, want: ["4:4"] },
    { low: 4, high: 6, maxBytes: Number.POSITIVE_INFINITY, want: ["4:4", "5:5"] },
    { low: 4, high: 7, maxBytes: Number.POSITIVE_INFINITY, want: ["4:4", "5:5", "6:6"] },
    { low: 4, high: 8, maxBytes: Number.POSITIVE_INFINITY, want: LogUnavailableError },
    // Byte limits: at least one entry, then as many as fit.
    { low: 4, high: 7, maxBytes: 0, want: ["4:4"] },
    { low: 4, high: 7, maxBytes: sized - 1, want: ["4:4"] },
    { low: 4, high: 7, maxBytes: sized, want: ["4:4"] },
    { low: 4, high: 7, maxBytes: 2 * sized - 1, want: ["4:4"] },
    { low: 4, high: 7, maxBytes: 2 * sized, want: ["4:4", "5:5"] },
    { low: 4, high: 7, maxBytes: 3 * sized - 1, want: ["4:4", "5:5"] },
    { low: 4, high: 7, maxBytes: 3 * sized, want: ["4:4", "5:5", "6:6"] },
  ];
  for (const { low, high, maxBytes, want } of cases) {
    it(`entries(${low}, ${high}, ${maxBytes})`, () => {
      const storage = build();
      if (Array.isArray(want)) {
        assert.deepEqual(indexesAndTerms(storage.entries(low, high, maxBytes)), want);
      } else {
        assert.throws(() => storage.entries(low, high, maxBytes), want);
      }
    });
  }

  it("returns copies: appending later does not change an earlier result", () => {
    const storage = build();
    const got = storage.entries(4, 7, Number.POSITIVE_INFINITY);
    storage.append(entries(5, [9]));
    assert.deepEqual(indexesAndTerms(got), ["4:4", "5:5", "6:6"]);
    assert.deepEqual(allTerms(storage), ["3:3", "4:4", "5:9"]);
  });
});

describe("MemoryStorage.append", () => {
  // Starts as dummy 3:3 then 4:4, 5:5 (etcd's TestStorageAppend).
  const cases: Array<{ name: string; append: Entry[]; want: string[] | "invariant" }> = [
    {
      name: "the same entries change nothing",
      append: entries(4, [4, 5]),
      want: ["3:3", "4:4", "5:5"],
    },
    {
      name: "a conflict at 5 replaces the suffix from 5",
      append: entries(4, [4, 6, 6]),
      want: ["3:3", "4:4", "5:6", "6:6"],
    },
    {
      name: "new entries after the last are appended",
      append: entries(4, [4, 5, 5]),
      want: ["3:3", "4:4", "5:5", "6:5"],
    },
    {
      name: "entries overlapping the compacted prefix are cut at the first index",
      append: entries(2, [3, 3, 5]),
      want: ["3:3", "4:5"],
    },
    {
      name: "a conflict at the first index replaces everything after the dummy",
      append: entries(4, [5]),
      want: ["3:3", "4:5"],
    },
    {
      name: "entries directly after the last are appended",
      append: entries(6, [5]),
      want: ["3:3", "4:4", "5:5", "6:5"],
    },
    {
      name: "entries entirely before the first index are ignored",
      append: entries(1, [1, 2]),
      want: ["3:3", "4:4", "5:5"],
    },
    {
      name: "a gap after the last index is an invariant violation",
      append: entries(7, [5]),
      want: "invariant",
    },
  ];
  for (const { name, append, want } of cases) {
    it(name, () => {
      const storage = storageWith(3, 3, [4, 5]);
      if (want === "invariant") {
        assert.throws(() => storage.append(append), RaftInvariantError);
        assert.deepEqual(
          allTerms(storage),
          ["3:3", "4:4", "5:5"],
          "a refused append changes nothing",
        );
      } else {
        storage.append(append);
        assert.deepEqual(allTerms(storage), want);
      }
    });
  }

  it("appending nothing is a no-op", () => {
    const storage = storageWith(3, 3, [4, 5]);
    storage.append([]);
    assert.equal(storage.lastIndex(), 5);
  });
});

describe("MemoryStorage.compact", () => {
  const cases: Array<{
    compact: number;
    want:
      | { first: number; last: number; dummyTerm: number }
      | typeof LogCompactedError
      | "invariant";
  }> = [
    { compact: 2, want: LogCompactedError },
    { compact: 3, want: LogCompactedError },
    { compact: 4, want: { first: 5, last: 5, dummyTerm: 4 } },
    { compact: 5, want: { first: 6, last: 5, dummyTerm: 5 } },
    { compact: 6, want: "invariant" },
  ];
  for (const { compact, want } of cases) {
    it(`compact(${compact}) of dummy 3:3 then 4:4, 5:5`, () => {
      const storage = storageWith(3, 3, [4, 5]);
      if (want === "invariant") {
        assert.throws(() => storage.compact(compact), RaftInvariantError);
      } else if (typeof want === "function") {
        assert.throws(() => storage.compact(compact), want);
      } else {
        storage.compact(compact);
        assert.equal(storage.firstIndex(), want.first);
        assert.equal(storage.lastIndex(), want.last);
        // The compact index stays as the dummy: its term is still known.
        assert.equal(storage.term(compact), want.dummyTerm);
        assert.throws(() => storage.term(compact - 1), LogCompactedError);
        assert.throws(() => storage.entries(compact, compact + 1, 100), LogCompactedError);
      }
    });
  }

  it("keeps the entries after the compact index and their payloads", () => {
    const storage = new MemoryStorage();
    storage.append([entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 2, "c"), entry(4, 2, "d")]);
    storage.compact(2);
    const kept = storage.entries(3, 5, Number.POSITIVE_INFINITY);
    assert.deepEqual(
      kept.map((e) => new TextDecoder().decode(e.data)),
      ["c", "d"],
    );
    // Appending after compaction still works, with conflicts resolved against kept entries.
    storage.append([entry(4, 3, "x")]);
    assert.deepEqual(allTerms(storage), ["2:1", "3:2", "4:3"]);
  });
});

describe("MemoryStorage.createSnapshot", () => {
  const data = new Uint8Array([1, 2, 3]);
  const newConf: ConfState = { ...CONF, voters: [1, 2, 3, 4] };

  it("records the snapshot with the term of its index, without compacting", () => {
    const storage = storageWith(3, 3, [4, 5]);
    const snapshot = storage.createSnapshot(4, newConf, data);
    assert.deepEqual(snapshot.metadata, { index: 4, term: 4, confState: newConf });
    assert.deepEqual(snapshot.data, data);
    assert.equal(storage.snapshot(), snapshot);
    assert.equal(storage.firstIndex(), 4, "createSnapshot does not compact");
    assert.deepEqual(
      storage.initialState().confState,
      newConf,
      "a restart sees the snapshot's membership",
    );
  });

  it("at the last index", () => {
    const storage = storageWith(3, 3, [4, 5]);
    assert.equal(storage.createSnapshot(5, CONF, data).metadata.term, 5);
  });

  it("refuses an index not newer than the current snapshot", () => {
    const storage = storageWith(3, 3, [4, 5]);
    assert.throws(
      () => storage.createSnapshot(3, CONF, data),
      (error: unknown) =>
        error instanceof SnapshotOutOfDateError &&
        error.snapshotIndex === 3 &&
        error.currentIndex === 3,
    );
    storage.createSnapshot(4, CONF, data);
    assert.throws(() => storage.createSnapshot(4, CONF, data), SnapshotOutOfDateError);
  });

  it("refuses an index past the last entry", () => {
    const storage = storageWith(3, 3, [4, 5]);
    assert.throws(() => storage.createSnapshot(6, CONF, data), RaftInvariantError);
  });

  it("then compact: the snapshot's index is the new dummy", () => {
    const storage = storageWith(0, 0, [1, 1, 2, 2, 3]);
    storage.createSnapshot(4, CONF, data);
    storage.compact(4);
    assert.equal(storage.firstIndex(), 5);
    assert.equal(storage.term(4), 2);
    assert.deepEqual(indexesAndTerms(storage.entries(5, 6, 100)), ["5:3"]);
  });
});

describe("MemoryStorage.applySnapshot", () => {
  function snapshot(index: number, term: number): Snapshot {
    return { metadata: { index, term, confState: CONF }, data: new Uint8Array([9]) };
  }

  it("replaces the whole log with the snapshot", () => {
    const storage = storageWith(0, 0, [1, 1, 2]);
    storage.applySnapshot(snapshot(10, 4));
    assert.equal(storage.firstIndex(), 11);
    assert.equal(storage.lastIndex(), 10);
    assert.equal(storage.term(10), 4);
    assert.throws(() => storage.term(9), LogCompactedError);
    assert.throws(() => storage.term(11), LogUnavailableError);
    assert.equal(storage.snapshot().metadata.index, 10);
    // Entries continue after the snapshot.
    storage.append(entries(11, [4, 5]));
    assert.deepEqual(allTerms(storage), ["10:4", "11:4", "12:5"]);
  });

  it("replaces the log even when the snapshot is inside it", () => {
    const storage = storageWith(0, 0, [1, 1, 2, 2]);
    storage.applySnapshot(snapshot(2, 1));
    assert.deepEqual(allTerms(storage), ["2:1"]);
  });

  it("refuses a snapshot older than (or as old as) the current one", () => {
    const storage = storageWith(0, 0, [1]);
    storage.applySnapshot(snapshot(5, 2));
    assert.throws(() => storage.applySnapshot(snapshot(5, 2)), SnapshotOutOfDateError);
    assert.throws(() => storage.applySnapshot(snapshot(4, 2)), SnapshotOutOfDateError);
    assert.equal(storage.snapshot().metadata.index, 5);
  });
});
