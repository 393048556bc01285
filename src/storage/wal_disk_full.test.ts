// The WAL on a full disk (a small tmpfs; skipped without root): a sync that needs space fails
// with DiskFullError, the WAL stays usable, and once space is freed the same sync goes through
// and everything appended is recovered, with no partial segment left behind.
import assert from "node:assert/strict";
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { Entry } from "../raft/index.ts";
import { isDiskFull } from "./disk_space.ts";
import { DiskFullError } from "./errors.ts";
import { fillDisk, makeEntries, mountTmpfs, plain } from "./test_helpers.ts";
import { Wal } from "./wal.ts";

const SEGMENT_BYTES = 64 * 1024;

test("a WAL segment rotation on a full disk fails with DiskFullError and succeeds when retried after space is freed", async (t) => {
  const disk = mountTmpfs(t, 1024 * 1024);
  if (disk === null) return;
  const dir = join(disk, "wal");
  const { wal } = await Wal.open(dir, { segmentBytes: SEGMENT_BYTES });
  const written: Entry[] = [];
  const append = (first: number, last: number) => {
    const entries = makeEntries(first, last, 1, 1000);
    written.push(...entries);
    wal.append(entries, { term: 1, vote: 1, commit: last });
  };
  append(1, 10);
  await wal.sync();
  const ballast = join(disk, "ballast");
  assert.ok(fillDisk(ballast) > 0);

  // Two segments' worth in small batches: the first rotation takes the spare prepared while
  // there was room, the second has to preallocate.
  for (let first = 11; first < 150; first += 10) append(first, first + 9);
  const full = await wal.sync().then(
    () => null,
    (error: unknown) => error,
  );
  assert.ok(full instanceof DiskFullError, `expected DiskFullError, got ${String(full)}`);
  assert.ok(isDiskFull(full));
  // Still full: a retry fails the same way, and appends are still taken.
  await assert.rejects(wal.sync(), DiskFullError);
  append(151, 160);
  for (const name of readdirSync(dir)) {
    assert.equal(statSync(join(dir, name)).size, SEGMENT_BYTES, `${name} is partial`);
  }

  rmSync(ballast);
  await wal.sync();
  await wal.close();
  const { wal: reopened, recovered } = await Wal.open(dir, { segmentBytes: SEGMENT_BYTES });
  assert.deepEqual(plain(recovered.entries), plain(written));
  assert.deepEqual(recovered.hardState, { term: 1, vote: 1, commit: 160 });
  assert.equal(recovered.tornTail, null);
  await reopened.close();
});

test("isDiskFull: ENOSPC and EDQUOT by name or number, also as a cause; nothing else", () => {
  const coded = (code: unknown) => Object.assign(new Error("x"), { code });
  assert.ok(isDiskFull(coded("ENOSPC")));
  assert.ok(isDiskFull(coded("EDQUOT")));
  assert.ok(isDiskFull(coded(28))); // lmdb-js: the errno
  assert.ok(isDiskFull(new Error("wrapped", { cause: coded("ENOSPC") })));
  assert.ok(isDiskFull(new DiskFullError("/d", "full")));
  assert.ok(!isDiskFull(coded("EIO")));
  assert.ok(!isDiskFull(new Error("No space left on device")));
  assert.ok(!isDiskFull(undefined));
  assert.ok(!isDiskFull("ENOSPC"));
});
