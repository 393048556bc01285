// Unit tests of RaftLog (and its unstable tail): etcd's log_test.go, adapted.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LogCompactedError, LogUnavailableError, RaftInvariantError } from "./errors.ts";
import { RaftLog } from "./log.ts";
import { MemoryStorage } from "./storage.ts";
import { type ConfState, type Entry, EntryType, type Snapshot } from "./types.ts";
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

function entries(first: number, terms: number[], data = ""): Entry[] {
  return terms.map((term, i) => entry(first + i, term, data));
}

function it2s(list: readonly Entry[]): string[] {
  return list.map((e) => `${e.index}:${e.term}`);
}

function snapshot(index: number, term: number): Snapshot {
  return { metadata: { index, term, confState: CONF }, data: new Uint8Array(0) };
}

/**
 * A log whose durable part (storage) holds `stable` terms from index 1 and whose unstable tail
 * holds `unstable` terms after them; committed and applied as given.
 */
function logOf(
  stable: number[],
  unstable: number[] = [],
  options: { committed?: number; applied?: number; data?: string } = {},
): RaftLog {
  const storage = new MemoryStorage();
  storage.append(entries(1, stable, options.data ?? ""));
  const log = new RaftLog(storage, 0, 0);
  if (unstable.length > 0) log.append(entries(stable.length + 1, unstable, options.data ?? ""));
  if (options.committed !== undefined) log.commitTo(options.committed);
  if (options.applied !== undefined) log.appliedTo(options.applied);
  return log;
}

function termsOf(log: RaftLog): string[] {
  const out: string[] = [];
  for (let i = log.firstIndex(); i <= log.lastIndex(); i++) out.push(`${i}:${log.term(i)}`);
  return out;
}

describe("RaftLog: construction", () => {
  it("an empty log: first 1, last 0, committed 0, last term 0", () => {
    const log = new RaftLog(new MemoryStorage(), 0, 0);
    assert.equal(log.firstIndex(), 1);
    assert.equal(log.lastIndex(), 0);
    assert.equal(log.lastTerm(), 0);
    assert.equal(log.committed, 0);
    assert.equal(log.applied, 0);
    assert.equal(log.unstable.offset, 1);
  });

  it("starts the unstable tail after storage and takes commit and applied", () => {
    const storage = new MemoryStorage();
    storage.append(entries(1, [1, 1, 2]));
    const log = new RaftLog(storage, 2, 1);
    assert.equal(log.unstable.offset, 4);
    assert.equal(log.committed, 2);
    assert.equal(log.applied, 1);
    assert.equal(log.lastTerm(), 2);
  });

  it("a compacted storage: commit and applied are at least the snapshot index", () => {
    const storage = new MemoryStorage();
    storage.applySnapshot(snapshot(5, 2));
    storage.append(entries(6, [2, 3]));
    const log = new RaftLog(storage, 0, 0);
    assert.equal(log.firstIndex(), 6);
    assert.equal(log.committed, 5);
    assert.equal(log.applied, 5);
  });

  it("refuses a commit index past the last index, and applied past commit", () => {
    const storage = new MemoryStorage();
    storage.append(entries(1, [1, 1]));
    assert.throws(() => new RaftLog(storage, 3, 0), RaftInvariantError);
    assert.throws(() => new RaftLog(storage, 1, 2), RaftInvariantError);
  });
});

describe("RaftLog.term across storage, unstable and snapshot", () => {
  // storage: dummy 3:3, 4:4, 5:4; unstable: 6:5, 7:5
  function build(): RaftLog {
    const storage = new MemoryStorage();
    storage.applySnapshot(snapshot(3, 3));
    storage.append(entries(4, [4, 4]));
    const log = new RaftLog(storage, 0, 0);
    log.append(entries(6, [5, 5]));
    return log;
  }
  const cases: Array<{
    index: number;
    want: number | typeof LogCompactedError | typeof LogUnavailableError;
  }> = [
    { index: 2, want: LogCompactedError },
    { index: 3, want: 3 },
    { index: 4, want: 4 },
    { index: 5, want: 4 },
    { index: 6, want: 5 },
    { index: 7, want: 5 },
    { index: 8, want: LogUnavailableError },
  ];
  for (const { index, want } of cases) {
    it(`term(${index})`, () => {
      const log = build();
      if (typeof want === "number") {
        assert.equal(log.term(index), want);
        assert.equal(log.termOrZero(index), want);
      } else {
        assert.throws(() => log.term(index), want);
        assert.equal(log.termOrZero(index), 0);
      }
    });
  }

  it("an unstable snapshot answers for its own index and hides storage", () => {
    const log = build();
    log.restore(snapshot(20, 7));
    assert.equal(log.firstIndex(), 21);
    assert.equal(log.lastIndex(), 20);
    assert.equal(log.term(20), 7);
    assert.equal(log.lastTerm(), 7);
    assert.equal(log.committed, 20);
    assert.throws(() => log.term(19), LogCompactedError);
    assert.throws(() => log.term(5), LogCompactedError);
    assert.throws(() => log.term(21), LogUnavailableError);
  });
});

describe("RaftLog.isUpToDate (Raft §5.4.1)", () => {
  // Our log: 1:1, 2:2, 3:3 — last index 3, last term 3.
  const cases = [
    // A higher last term wins whatever the index.
    { lastIndex: 2, lastTerm: 4, want: true },
    { lastIndex: 3, lastTerm: 4, want: true },
    { lastIndex: 4, lastTerm: 4, want: true },
    // A lower last term loses whatever the index.
    { lastIndex: 2, lastTerm: 2, want: false },
    { lastIndex: 3, lastTerm: 2, want: false },
    { lastIndex: 4, lastTerm: 2, want: false },
    // The same last term: the longer (or equal) log is up to date.
    { lastIndex: 2, lastTerm: 3, want: false },
    { lastIndex: 3, lastTerm: 3, want: true },
    { lastIndex: 4, lastTerm: 3, want: true },
  ];
  for (const { lastIndex, lastTerm, want } of cases) {
    it(`candidate (index ${lastIndex}, term ${lastTerm}) vs ours (3, 3): ${want}`, () => {
      const log = logOf([1, 2], [3]);
      assert.equal(log.isUpToDate(lastIndex, lastTerm), want);
    });
  }
});

describe("RaftLog.findConflict", () => {
  // Our log: 1:1, 2:2, 3:3 (1-2 durable, 3 unstable).
  const cases: Array<{ name: string; given: Entry[]; want: number }> = [
    { name: "no entries", given: [], want: 0 },
    { name: "all match (whole log)", given: entries(1, [1, 2, 3]), want: 0 },
    { name: "all match (suffix)", given: entries(2, [2, 3]), want: 0 },
    { name: "all match (last)", given: entries(3, [3]), want: 0 },
    { name: "new entries after the whole log", given: entries(1, [1, 2, 3, 4, 4]), want: 4 },
    { name: "new entries after a suffix", given: entries(2, [2, 3, 4, 4]), want: 4 },
    { name: "new entries after the last", given: entries(3, [3, 4, 4]), want: 4 },
    { name: "only new entries", given: entries(4, [4, 4]), want: 4 },
    { name: "conflict at the first entry", given: entries(1, [4, 4]), want: 1 },
    { name: "conflict in the middle", given: entries(2, [1, 4, 4]), want: 2 },
    { name: "conflict at the last entry", given: entries(3, [1, 2, 4, 4]), want: 3 },
  ];
  for (const { name, given, want } of cases) {
    it(name, () => {
      assert.equal(logOf([1, 2], [3]).findConflict(given), want);
    });
  }
});

describe("RaftLog.findConflictByTerm (fast backtracking)", () => {
  // An uncompacted log: 1:2, 2:2, 3:5, 4:5, 5:5.
  const full = [
    { index: 100, term: 2, want: { index: 100, term: 0 } }, // past the end: unknown term
    { index: 5, term: 6, want: { index: 5, term: 5 } },
    { index: 5, term: 5, want: { index: 5, term: 5 } },
    { index: 5, term: 4, want: { index: 2, term: 2 } }, // skips all of term 5 at once
    { index: 5, term: 2, want: { index: 2, term: 2 } },
    { index: 5, term: 1, want: { index: 0, term: 0 } },
    { index: 1, term: 2, want: { index: 1, term: 2 } },
    { index: 1, term: 1, want: { index: 0, term: 0 } },
    { index: 0, term: 0, want: { index: 0, term: 0 } },
  ];
  for (const { index, term, want } of full) {
    it(`uncompacted: (${index}, ${term}) -> (${want.index}, ${want.term})`, () => {
      const log = logOf([2, 2], [5, 5, 5]);
      assert.deepEqual(log.findConflictByTerm(index, term), want);
    });
  }

  // A compacted log: dummy 10:3, then 11:3, 12:3, 13:4, 14:4, 15:4.
  const compacted = [
    { index: 30, term: 3, want: { index: 30, term: 0 } },
    { index: 14, term: 9, want: { index: 14, term: 4 } },
    { index: 14, term: 4, want: { index: 14, term: 4 } },
    { index: 14, term: 3, want: { index: 12, term: 3 } },
    // Below the compaction point the term is unknown: stop there with term 0.
    { index: 14, term: 2, want: { index: 9, term: 0 } },
    { index: 11, term: 2, want: { index: 9, term: 0 } },
    { index: 10, term: 2, want: { index: 9, term: 0 } },
    { index: 10, term: 3, want: { index: 10, term: 3 } },
  ];
  for (const { index, term, want } of compacted) {
    it(`compacted at 10: (${index}, ${term}) -> (${want.index}, ${want.term})`, () => {
      const storage = new MemoryStorage();
      storage.applySnapshot(snapshot(10, 3));
      storage.append(entries(11, [3, 3]));
      const log = new RaftLog(storage, 0, 0);
      log.append(entries(13, [4, 4, 4]));
      assert.deepEqual(log.findConflictByTerm(index, term), want);
    });
  }
});

describe("RaftLog.maybeAppend (a follower receiving Append)", () => {
  // Our log: 1:1, 2:2, 3:3 with commit 1 (etcd's TestLogMaybeAppend).
  const lastIndex = 3;
  const lastTerm = 3;
  const commit = 1;
  const cases: Array<{
    name: string;
    prevTerm: number;
    prevIndex: number;
    leaderCommit: number;
    given: Entry[];
    want: number | undefined | "invariant";
    wantCommit: number;
    wantLog?: string[];
  }> = [
    {
      name: "no match: the term at prevIndex differs",
      prevTerm: lastTerm - 1,
      prevIndex: lastIndex,
      leaderCommit: lastIndex,
      given: entries(4, [4]),
      want: undefined,
      wantCommit: commit,
    },
    {
      name: "no match: prevIndex is past our last index",
      prevTerm: lastTerm,
      prevIndex: lastIndex + 1,
      leaderCommit: lastIndex,
      given: entries(5, [4]),
      want: undefined,
      wantCommit: commit,
    },
    {
      name: "match at the last entry, nothing new: commit to the leader's commit",
      prevTerm: lastTerm,
      prevIndex: lastIndex,
      leaderCommit: lastIndex,
      given: [],
      want: lastIndex,
      wantCommit: lastIndex,
    },
    {
      name: "commit is capped at the last new index",
      prevTerm: lastTerm,
      prevIndex: lastIndex,
      leaderCommit: lastIndex + 1,
      given: [],
      want: lastIndex,
      wantCommit: lastIndex,
    },
    {
      name: "commit follows the leader's commit when lower than the last new index",
      prevTerm: lastTerm,
      prevIndex: lastIndex,
      leaderCommit: lastIndex - 1,
      given: [],
      want: lastIndex,
      wantCommit: lastIndex - 1,
    },
    {
      name: "commit never decreases",
      prevTerm: lastTerm,
      prevIndex: lastIndex,
      leaderCommit: 0,
      given: [],
      want: lastIndex,
      wantCommit: commit,
    },
    {
      name: "commit never decreases (match at index 0)",
      prevTerm: 0,
      prevIndex: 0,
      leaderCommit: lastIndex,
      given: [],
      want: 0,
      wantCommit: commit,
    },
    {
      name: "a new entry after the last",
      prevTerm: lastTerm,
      prevIndex: lastIndex,
      leaderCommit: lastIndex,
      given: entries(4, [4]),
      want: 4,
      wantCommit: 3,
      wantLog: ["1:1", "2:2", "3:3", "4:4"],
    },
    {
      name: "a new entry, committed by the leader",
      prevTerm: lastTerm,
      prevIndex: lastIndex,
      leaderCommit: 4,
      given: entries(4, [4]),
      want: 4,
      wantCommit: 4,
    },
    {
      name: "a new entry, commit capped at it",
      prevTerm: lastTerm,
      prevIndex: lastIndex,
      leaderCommit: 5,
      given: entries(4, [4]),
      want: 4,
      wantCommit: 4,
    },
    {
      name: "two new entries",
      prevTerm: lastTerm,
      prevIndex: lastIndex,
      leaderCommit: 5,
      given: entries(4, [4, 4]),
      want: 5,
      wantCommit: 5,
    },
    {
      name: "match in the middle: the conflicting last entry is replaced",
      prevTerm: lastTerm - 1,
      prevIndex: lastIndex - 1,
      leaderCommit: lastIndex,
      given: entries(3, [4]),
      want: 3,
      wantCommit: 3,
      wantLog: ["1:1", "2:2", "3:4"],
    },
    {
      name: "match at the committed entry: the uncommitted suffix is replaced",
      prevTerm: lastTerm - 2,
      prevIndex: lastIndex - 2,
      leaderCommit: lastIndex,
      given: entries(2, [4]),
      want: 2,
      wantCommit: 2,
      wantLog: ["1:1", "2:4"],
    },
    {
      name: "a conflict with a committed entry is an invariant violation",
      prevTerm: 0,
      prevIndex: 0,
      leaderCommit: lastIndex,
      given: entries(1, [4]),
      want: "invariant",
      wantCommit: commit,
    },
    {
      name: "replacing two entries from the middle",
      prevTerm: lastTerm - 2,
      prevIndex: lastIndex - 2,
      leaderCommit: lastIndex,
      given: entries(2, [4, 4]),
      want: 3,
      wantCommit: 3,
      wantLog: ["1:1", "2:4", "3:4"],
    },
    {
      name: "entries we already have are not truncated (a stale, shorter Append)",
      prevTerm: 1,
      prevIndex: 1,
      leaderCommit: 1,
      given: entries(2, [2]),
      want: 2,
      wantCommit: 1,
      wantLog: ["1:1", "2:2", "3:3"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      // 1-2 durable, 3 unstable: conflicts cross the boundary.
      const log = logOf([1, 2], [3], { committed: commit });
      if (c.want === "invariant") {
        assert.throws(
          () => log.maybeAppend(c.prevIndex, c.prevTerm, c.leaderCommit, c.given),
          RaftInvariantError,
        );
      } else {
        assert.equal(log.maybeAppend(c.prevIndex, c.prevTerm, c.leaderCommit, c.given), c.want);
      }
      assert.equal(log.committed, c.wantCommit);
      if (c.wantLog !== undefined) assert.deepEqual(termsOf(log), c.wantLog);
    });
  }

  it("a conflict below the unstable offset rewinds the unstable tail (storage keeps the old until persisted)", () => {
    const log = logOf([1, 1, 1], [1]);
    assert.equal(log.unstable.offset, 4);
    assert.equal(log.maybeAppend(1, 1, 0, entries(2, [2, 2])), 3);
    assert.equal(log.unstable.offset, 2);
    assert.deepEqual(it2s(log.unstableEntries()), ["2:2", "3:2"]);
    assert.deepEqual(termsOf(log), ["1:1", "2:2", "3:2"]);
    assert.equal(log.lastIndex(), 3);
  });
});

describe("RaftLog.append", () => {
  it("refuses to overwrite a committed entry", () => {
    const log = logOf([1, 1, 1], [], { committed: 2 });
    assert.throws(() => log.append(entries(2, [2])), RaftInvariantError);
    assert.deepEqual(termsOf(log), ["1:1", "2:1", "3:1"]);
  });

  it("appends after the committed index, truncating an uncommitted suffix", () => {
    const log = logOf([1, 1], [1, 1], { committed: 2 });
    assert.equal(log.append(entries(3, [2])), 3);
    assert.deepEqual(termsOf(log), ["1:1", "2:1", "3:2"]);
  });

  it("appending nothing returns the last index", () => {
    assert.equal(logOf([1, 1]).append([]), 2);
  });
});

describe("RaftLog.slice across storage and the unstable tail", () => {
  // 1..3 durable, 4..6 unstable, every payload 10 bytes.
  const size = 10 + ENTRY_OVERHEAD_BYTES;
  const all = Number.POSITIVE_INFINITY;
  const cases: Array<{ low: number; high: number; maxBytes: number; want: number[] }> = [
    { low: 1, high: 1, maxBytes: all, want: [] },
    { low: 1, high: 7, maxBytes: all, want: [1, 2, 3, 4, 5, 6] },
    { low: 2, high: 6, maxBytes: all, want: [2, 3, 4, 5] },
    { low: 4, high: 6, maxBytes: all, want: [4, 5] },
    { low: 1, high: 3, maxBytes: all, want: [1, 2] },
    // Byte limits across the boundary.
    { low: 2, high: 6, maxBytes: 0, want: [2] },
    { low: 2, high: 6, maxBytes: size, want: [2] },
    { low: 2, high: 6, maxBytes: 2 * size, want: [2, 3] },
    { low: 2, high: 6, maxBytes: 3 * size - 1, want: [2, 3] },
    { low: 2, high: 6, maxBytes: 3 * size, want: [2, 3, 4] },
    { low: 2, high: 6, maxBytes: 4 * size, want: [2, 3, 4, 5] },
    { low: 3, high: 6, maxBytes: 0, want: [3] },
    { low: 3, high: 6, maxBytes: 2 * size, want: [3, 4] },
    { low: 4, high: 7, maxBytes: 0, want: [4] },
    { low: 4, high: 7, maxBytes: 2 * size, want: [4, 5] },
  ];
  for (const { low, high, maxBytes, want } of cases) {
    it(`slice(${low}, ${high}, ${maxBytes})`, () => {
      const log = logOf([1, 1, 1], [2, 2, 2], { data: "0123456789" });
      const got = log.slice(low, high, maxBytes);
      assert.deepEqual(
        got.map((e) => e.index),
        want,
      );
    });
  }

  it("throws LogCompactedError below the first index, an invariant error past the end", () => {
    const storage = new MemoryStorage();
    storage.append(entries(1, [1, 1, 1, 1]));
    storage.compact(2);
    const log = new RaftLog(storage, 0, 0);
    log.append(entries(5, [2]));
    assert.throws(() => log.slice(2, 4, all), LogCompactedError);
    assert.deepEqual(
      log.slice(3, 6, all).map((e) => e.index),
      [3, 4, 5],
    );
    assert.throws(() => log.slice(3, 7, all), RaftInvariantError);
  });

  it("entriesFrom: the rest of the log within the byte limit, empty past the end", () => {
    const log = logOf([1, 1, 1], [2, 2, 2], { data: "0123456789" });
    assert.deepEqual(
      log.entriesFrom(3, all).map((e) => e.index),
      [3, 4, 5, 6],
    );
    assert.deepEqual(
      log.entriesFrom(3, 2 * size).map((e) => e.index),
      [3, 4],
    );
    assert.deepEqual(log.entriesFrom(7, all), []);
  });
});

describe("RaftLog: commit and apply rules", () => {
  it("commitTo never decreases and refuses to pass the last index", () => {
    const log = logOf([1, 1, 2]);
    log.commitTo(2);
    assert.equal(log.committed, 2);
    log.commitTo(1);
    assert.equal(log.committed, 2, "commit does not go backwards");
    assert.throws(() => log.commitTo(4), RaftInvariantError);
    assert.equal(log.committed, 2);
  });

  it("maybeCommit commits only an entry of the given term (§5.4.2)", () => {
    // 1:1, 2:1, 3:2, 4:2
    const log = logOf([1, 1], [2, 2]);
    assert.equal(log.maybeCommit(2, 2), false, "entry 2 is of term 1, not the leader's term 2");
    assert.equal(log.committed, 0);
    assert.equal(log.maybeCommit(3, 2), true);
    assert.equal(log.committed, 3, "committing 3 commits 1 and 2 with it");
    assert.equal(log.maybeCommit(3, 2), false, "nothing new");
    assert.equal(log.maybeCommit(2, 1), false, "never backwards");
    assert.equal(log.committed, 3);
    assert.equal(log.maybeCommit(5, 2), false, "past the end is of no term");
    assert.equal(log.maybeCommit(4, 2), true);
    assert.equal(log.committed, 4);
  });

  it("appliedTo stays within [applied, committed]", () => {
    const log = logOf([1, 1, 1], [], { committed: 2 });
    log.appliedTo(1);
    assert.equal(log.applied, 1);
    assert.throws(() => log.appliedTo(3), RaftInvariantError, "past commit");
    log.appliedTo(2);
    assert.throws(() => log.appliedTo(1), RaftInvariantError, "backwards");
    log.appliedTo(0); // 0 means nothing applied in this batch
    assert.equal(log.applied, 2);
  });

  it("nextCommittedEntries hands out committed, unapplied entries, bounded in bytes", () => {
    const size = 10 + ENTRY_OVERHEAD_BYTES;
    const log = logOf([1, 1, 1], [1, 1], { data: "0123456789" });
    assert.equal(log.hasNextCommittedEntries(), false);
    log.commitTo(4);
    assert.equal(log.hasNextCommittedEntries(), true);
    assert.deepEqual(
      log.nextCommittedEntries(Number.POSITIVE_INFINITY).map((e) => e.index),
      [1, 2, 3, 4],
    );
    assert.deepEqual(
      log.nextCommittedEntries(2 * size).map((e) => e.index),
      [1, 2],
    );
    log.appliedTo(2);
    assert.deepEqual(
      log.nextCommittedEntries(0).map((e) => e.index),
      [3],
      "at least one entry",
    );
    log.appliedTo(4);
    assert.equal(log.hasNextCommittedEntries(), false);
    assert.deepEqual(log.nextCommittedEntries(Number.POSITIVE_INFINITY), []);
  });

  it("no committed entries are handed out while an unstable snapshot is pending", () => {
    const log = logOf([1, 1], [], { committed: 2 });
    log.restore(snapshot(10, 3));
    assert.equal(log.committed, 10);
    assert.equal(log.hasNextCommittedEntries(), false);
    assert.deepEqual(log.nextCommittedEntries(Number.POSITIVE_INFINITY), []);
    assert.equal(log.snapshot().metadata.index, 10);
  });
});

describe("UnstableLog (via RaftLog)", () => {
  it("stableTo drops entries up to the persisted one", () => {
    const log = logOf([], [1, 1, 2]);
    log.unstable.stableTo(2, 1);
    assert.equal(log.unstable.offset, 3);
    assert.deepEqual(it2s(log.unstableEntries()), ["3:2"]);
  });

  it("stableTo ignores a term mismatch (the entry was replaced after the Ready)", () => {
    const log = logOf([], [1, 1, 1]);
    log.maybeAppend(1, 1, 0, entries(2, [2]));
    log.unstable.stableTo(3, 1); // the Ready had handed out 3:1, which is gone
    assert.equal(log.unstable.offset, 1);
    assert.deepEqual(it2s(log.unstableEntries()), ["1:1", "2:2"]);
    log.unstable.stableTo(2, 2);
    assert.deepEqual(it2s(log.unstableEntries()), []);
    assert.equal(log.unstable.offset, 3);
  });

  it("stableSnapshotTo clears only the matching snapshot", () => {
    const log = logOf([1]);
    log.restore(snapshot(5, 2));
    log.unstable.stableSnapshotTo(4);
    assert.notEqual(log.unstable.snapshot, null);
    log.unstable.stableSnapshotTo(5);
    assert.equal(log.unstable.snapshot, null);
  });
});
