import assert from "node:assert/strict";
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { EMPTY_HARD_STATE } from "../raft/index.ts";
import { WalCorruptError, WalHardStateError, WalMissingSegmentError } from "./errors.ts";
import { makeEntries, plain, withTempDir } from "./test_helpers.ts";
import { Wal } from "./wal.ts";
import { RecordBuffer } from "./wal_record.ts";
import { scanSegment } from "./wal_scan.ts";
import { segmentName } from "./wal_segment.ts";

const SMALL = { segmentBytes: 64 * 1024 };

function segmentPaths(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(".wal"))
    .sort()
    .map((name) => join(dir, name));
}

/** Writes batches of 10 entries, one sync each, and returns the segment paths. */
async function writeBatches(dir: string, batches: number, dataBytes = 16): Promise<string[]> {
  const { wal } = await Wal.open(dir, SMALL);
  for (let batch = 0; batch < batches; batch++) {
    const first = batch * 10 + 1;
    wal.append(makeEntries(first, first + 9, 1, dataBytes), { term: 1, vote: 1, commit: first });
    await wal.sync();
  }
  await wal.close();
  return segmentPaths(dir);
}

function recordOffsets(path: string): number[] {
  return scanSegment(readFileSync(path)).records.map((record) => record.offset);
}

function flipByte(path: string, offset: number): void {
  const bytes = readFileSync(path);
  bytes[offset] = bytes[offset]! ^ 0x40;
  writeFileSync(path, bytes);
}

test("a torn last record is zeroed out and reported; the WAL carries on cleanly", async () => {
  await withTempDir(async (dir) => {
    const [path] = await writeBatches(dir, 3);
    const offsets = recordOffsets(path!);
    const lastRecord = offsets.at(-1)!; // the hard state of batch 3
    const entriesRecord = offsets.at(-2)!; // the entries of batch 3
    // Zero the second half of the last entries record: the write never finished.
    const bytes = readFileSync(path!);
    bytes.fill(0, entriesRecord + Math.floor((lastRecord - entriesRecord) / 2));
    writeFileSync(path!, bytes);
    const warnings: string[] = [];
    const logger = { info() {}, warn: (message: string) => warnings.push(message) };
    const { wal, recovered } = await Wal.open(dir, { ...SMALL, logger });
    assert.deepEqual(recovered.tornTail, { file: path, offset: entriesRecord });
    assert.deepEqual(plain(recovered.entries), plain(makeEntries(1, 20, 1)));
    assert.deepEqual(recovered.hardState, { term: 1, vote: 1, commit: 11 });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, new RegExp(`${path}.*offset ${entriesRecord}`));
    wal.append(makeEntries(21, 22, 2), { term: 2, vote: 0, commit: 21 });
    await wal.close();
    const again = await Wal.open(dir, SMALL);
    assert.equal(again.recovered.tornTail, null);
    assert.deepEqual(
      plain(again.recovered.entries),
      plain([...makeEntries(1, 20, 1), ...makeEntries(21, 22, 2)]),
    );
    await again.wal.close();
  });
});

test("a last record cut short with garbage after it is a torn tail too", async () => {
  await withTempDir(async (dir) => {
    const [path] = await writeBatches(dir, 2);
    const lastRecord = recordOffsets(path!).at(-1)!;
    flipByte(path!, lastRecord + 12);
    const { wal, recovered } = await Wal.open(dir, SMALL);
    assert.deepEqual(recovered.tornTail, { file: path, offset: lastRecord });
    assert.deepEqual(recovered.hardState, { term: 1, vote: 1, commit: 1 });
    assert.equal(recovered.entries.length, 20);
    await wal.close();
  });
});

test("a flipped byte in a segment that is not the last is corruption", async () => {
  await withTempDir(async (dir) => {
    const paths = await writeBatches(dir, 40, 400);
    assert.ok(paths.length >= 3);
    const offset = recordOffsets(paths[1]!)[2]!;
    flipByte(paths[1]!, offset + 30);
    await assert.rejects(Wal.open(dir, SMALL), (error: unknown) => {
      assert.ok(error instanceof WalCorruptError);
      assert.equal(error.file, paths[1]);
      assert.equal(error.offset, offset);
      assert.match(
        error.message,
        new RegExp(`${paths[1]}.*offset ${offset}.*restore this member from a peer`),
      );
      return true;
    });
  });
});

test("a flipped byte in the last segment followed by valid records is corruption", async () => {
  await withTempDir(async (dir) => {
    const [path] = await writeBatches(dir, 5);
    const offset = recordOffsets(path!)[3]!;
    flipByte(path!, offset + 20);
    await assert.rejects(Wal.open(dir, SMALL), { name: "WalCorruptError", file: path, offset });
    flipByte(path!, offset + 20);
    const { wal, recovered } = await Wal.open(dir, SMALL);
    assert.equal(recovered.entries.length, 50);
    await wal.close();
  });
});

test("a zeroed length in the middle of the last segment is corruption, not the end of the log", async () => {
  await withTempDir(async (dir) => {
    const [path] = await writeBatches(dir, 5);
    const offset = recordOffsets(path!)[3]!;
    const bytes = readFileSync(path!);
    bytes.fill(0, offset, offset + 4);
    writeFileSync(path!, bytes);
    await assert.rejects(Wal.open(dir, SMALL), { name: "WalCorruptError", offset });
  });
});

test("a deleted middle segment is reported as missing", async () => {
  await withTempDir(async (dir) => {
    const paths = await writeBatches(dir, 40, 400);
    assert.ok(paths.length >= 3);
    unlinkSync(paths[1]!);
    await assert.rejects(Wal.open(dir, SMALL), (error: unknown) => {
      assert.ok(error instanceof WalMissingSegmentError);
      assert.match(error.message, /0000000000000001-\*\.wal/);
      return true;
    });
  });
});

test("a deleted first segment with no snapshot covering it is reported as missing", async () => {
  await withTempDir(async (dir) => {
    const paths = await writeBatches(dir, 40, 400);
    unlinkSync(paths[0]!);
    await assert.rejects(Wal.open(dir, SMALL), WalMissingSegmentError);
  });
});

test("a segment whose first index does not follow the log before it is reported", async () => {
  await withTempDir(async (dir) => {
    const paths = await writeBatches(dir, 40, 400);
    const renamed = paths[2]!.replace(/-[0-9a-f]{16}\.wal$/, "-00000000000fffff.wal");
    writeFileSync(renamed, readFileSync(paths[2]!));
    unlinkSync(paths[2]!);
    await assert.rejects(Wal.open(dir, SMALL), { name: "WalMissingSegmentError" });
  });
});

test("a hard state committing past the end of the log is refused", async () => {
  await withTempDir(async (dir) => {
    const records = new RecordBuffer();
    records.writeSegmentHeader(EMPTY_HARD_STATE, null);
    const entries = makeEntries(1, 5, 1);
    records.writeEntries(
      entries,
      13 + entries.reduce((sum, entry) => sum + 21 + entry.data.length, 0),
    );
    records.writeHardState({ term: 1, vote: 1, commit: 10 });
    const file = Buffer.alloc(SMALL.segmentBytes);
    records.bytes.copy(file, 0, 0, records.length);
    writeFileSync(join(dir, segmentName(0, 1)), file);
    await assert.rejects(Wal.open(dir, SMALL), (error: unknown) => {
      assert.ok(error instanceof WalHardStateError);
      assert.equal(error.commit, 10);
      assert.equal(error.lastIndex, 5);
      assert.match(error.message, /commit 10 .* last log index 5/);
      return true;
    });
  });
});

test("leftover temp files from an interrupted preallocation are removed on open", async () => {
  await withTempDir(async (dir) => {
    await writeBatches(dir, 1);
    writeFileSync(join(dir, "next-segment.tmp"), "partial");
    const { wal } = await Wal.open(dir, SMALL);
    await wal.close();
    assert.deepEqual(
      readdirSync(dir).filter((name) => !name.endsWith(".wal")),
      [],
    );
  });
});
