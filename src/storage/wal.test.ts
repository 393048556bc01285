import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { EMPTY_CONF_STATE, EMPTY_HARD_STATE, type Entry, type HardState } from "../raft/index.ts";
import { WalError, WalHardStateError } from "./errors.ts";
import { makeEntries, plain, withTempDir } from "./test_helpers.ts";
import { Wal } from "./wal.ts";

const SMALL = { segmentBytes: 64 * 1024 };
const segmentFiles = (dir: string) =>
  readdirSync(dir)
    .filter((name) => name.endsWith(".wal"))
    .sort();

test("a fresh directory recovers nothing and gets one segment", async () => {
  await withTempDir(async (dir) => {
    const { wal, recovered } = await Wal.open(`${dir}/wal`, SMALL);
    assert.deepEqual(recovered, {
      snapshot: null,
      hardState: EMPTY_HARD_STATE,
      entries: [],
      tornTail: null,
    });
    await wal.close();
    assert.deepEqual(segmentFiles(`${dir}/wal`), ["0000000000000000-0000000000000001.wal"]);
    const reopened = await Wal.open(`${dir}/wal`, SMALL);
    assert.deepEqual(reopened.recovered.entries, []);
    await reopened.wal.close();
  });
});

test("round trip across many segment rotations", async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, SMALL);
    const written: Entry[] = [];
    let hardState: HardState = EMPTY_HARD_STATE;
    const snapshot = { index: 300, term: 2, confState: { ...EMPTY_CONF_STATE, voters: [1, 2, 3] } };
    for (let batch = 0; batch < 100; batch++) {
      const entries = makeEntries(batch * 10 + 1, batch * 10 + 10, 1 + Math.floor(batch / 20), 500);
      written.push(...entries);
      hardState = { term: 1 + Math.floor(batch / 20), vote: 2, commit: batch * 10 + 5 };
      wal.append(entries, hardState, batch === 40 ? snapshot : null);
      if (batch % 7 === 0) await wal.sync();
    }
    await wal.close();
    assert.ok(segmentFiles(dir).length >= 8, `expected rotations, got ${segmentFiles(dir)}`);
    const { wal: reopened, recovered } = await Wal.open(dir, SMALL);
    assert.deepEqual(recovered.snapshot, snapshot);
    assert.deepEqual(recovered.hardState, hardState);
    assert.deepEqual(plain(recovered.entries), plain(written.filter((entry) => entry.index > 300)));
    assert.equal(recovered.tornTail, null);
    await reopened.close();
  });
});

test("an overwritten suffix is replaced, also across a reopen", async () => {
  await withTempDir(async (dir) => {
    const first = await Wal.open(dir, SMALL);
    first.wal.append(makeEntries(1, 10, 1), { term: 1, vote: 1, commit: 3 });
    await first.wal.sync();
    first.wal.append(makeEntries(6, 8, 2), { term: 2, vote: 3, commit: 4 });
    await first.wal.close();
    const second = await Wal.open(dir, SMALL);
    const expected = [...makeEntries(1, 5, 1), ...makeEntries(6, 8, 2)];
    assert.deepEqual(plain(second.recovered.entries), plain(expected));
    assert.deepEqual(second.recovered.hardState, { term: 2, vote: 3, commit: 4 });
    second.wal.append(makeEntries(9, 9, 2), null);
    await second.wal.close();
    const third = await Wal.open(dir, SMALL);
    assert.deepEqual(plain(third.recovered.entries), plain([...expected, ...makeEntries(9, 9, 2)]));
    await third.wal.close();
  });
});

test("a received snapshot that does not match the log replaces it", async () => {
  await withTempDir(async (dir) => {
    const first = await Wal.open(dir, SMALL);
    first.wal.append(makeEntries(1, 20, 1), null);
    const snapshot = { index: 15, term: 3, confState: EMPTY_CONF_STATE };
    first.wal.append(makeEntries(16, 17, 3), { term: 3, vote: 0, commit: 15 }, snapshot);
    await first.wal.close();
    const second = await Wal.open(dir, SMALL);
    assert.deepEqual(plain(second.recovered.entries), plain(makeEntries(16, 17, 3)));
    await second.wal.close();
  });
});

test("append refuses a batch that contradicts the log", async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, SMALL);
    wal.append(makeEntries(1, 5, 1), null);
    assert.throws(() => wal.append(makeEntries(7, 8, 1), null), WalError);
    assert.throws(() => wal.append([], { term: 1, vote: 0, commit: 6 }), WalHardStateError);
    await wal.sync(); // nothing of the refused batches was buffered: the WAL carries on
    const snapshot = { index: 5, term: 1, confState: EMPTY_CONF_STATE };
    assert.throws(
      () => wal.append([], { term: 1, vote: 0, commit: 9 }, snapshot),
      WalHardStateError,
    );
    // The marker before the bad hard state was buffered: the WAL now refuses all work.
    await assert.rejects(wal.sync(), WalHardStateError);
    assert.throws(() => wal.append(makeEntries(6, 6, 1), null), WalHardStateError);
    await wal.close();
    const { wal: reopened, recovered } = await Wal.open(dir, SMALL);
    assert.equal(recovered.snapshot, null);
    assert.equal(recovered.entries.length, 5);
    await reopened.close();
  });
});

test("releaseTo deletes old segments; recovery keeps the snapshot, hard state and later entries", async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, SMALL);
    for (let batch = 0; batch < 100; batch++) {
      wal.append(makeEntries(batch * 10 + 1, batch * 10 + 10, 1, 400), {
        term: 1,
        vote: 1,
        commit: batch * 10,
      });
    }
    await wal.sync();
    const before = segmentFiles(dir);
    await assert.rejects(wal.releaseTo(800), WalError, "no durable snapshot marker yet");
    const snapshot = { index: 800, term: 1, confState: { ...EMPTY_CONF_STATE, voters: [1] } };
    wal.append([], null, snapshot);
    await assert.rejects(wal.releaseTo(800), WalError, "marker appended but not synced");
    await wal.sync();
    await wal.releaseTo(800);
    const after = segmentFiles(dir);
    assert.ok(after.length <= before.length - 5, `${before.length} -> ${after.length}`);
    assert.equal(after.at(-1), before.at(-1), "the segment being written is kept");
    await wal.close();
    const { wal: reopened, recovered } = await Wal.open(dir, SMALL);
    assert.deepEqual(recovered.snapshot, snapshot);
    assert.deepEqual(recovered.hardState, { term: 1, vote: 1, commit: 990 });
    assert.deepEqual(plain(recovered.entries), plain(makeEntries(801, 1000, 1, 400)));
    reopened.append(makeEntries(1001, 1001, 1), null);
    await reopened.close();
    const again = await Wal.open(dir, SMALL);
    assert.equal(again.recovered.entries.at(-1)?.index, 1001);
    await again.wal.close();
  });
});

test("group commit: concurrent syncs share fdatasyncs and all resolve", async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, SMALL);
    wal.takeSyncLatenciesUs();
    const syncs: Promise<void>[] = [];
    for (let index = 1; index <= 100; index++) {
      wal.append(makeEntries(index, index, 1, 100), { term: 1, vote: 1, commit: index - 1 });
      syncs.push(wal.sync());
    }
    await Promise.all(syncs);
    const fdatasyncs = wal.takeSyncLatenciesUs().length;
    assert.ok(fdatasyncs >= 1 && fdatasyncs <= 10, `${fdatasyncs} fdatasyncs for 100 syncs`);
    assert.deepEqual(wal.takeSyncLatenciesUs(), []);
    await wal.close();
    const { wal: reopened, recovered } = await Wal.open(dir, SMALL);
    assert.equal(recovered.entries.length, 100);
    await reopened.close();
  });
});

test("a sync with nothing new resolves without an fdatasync", async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, SMALL);
    wal.append(makeEntries(1, 1, 1), null);
    await wal.sync();
    wal.takeSyncLatenciesUs();
    await wal.sync();
    assert.deepEqual(wal.takeSyncLatenciesUs(), []);
    await wal.close();
  });
});

test("a record larger than a segment gets a segment of its own", async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, SMALL);
    wal.append(makeEntries(1, 3, 1, 50 * 1024), null);
    wal.append(makeEntries(4, 4, 1), null);
    await wal.close();
    const { wal: reopened, recovered } = await Wal.open(dir, SMALL);
    assert.deepEqual(
      plain(recovered.entries),
      plain([...makeEntries(1, 3, 1, 50 * 1024), ...makeEntries(4, 4, 1)]),
    );
    await reopened.close();
  });
});
