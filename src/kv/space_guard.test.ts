// The space guard: LMDB commits are refused (DiskFullError, nothing changed) while the disk is
// nearly full, and go through unchanged once it has room again.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DiskFullError, isDiskFull } from "../storage/index.ts";
import { fillDisk, mountTmpfs } from "../storage/test_helpers.ts";
import { encodeCommand } from "./command.ts";
import { MvccStore } from "./mvcc_store.ts";
import { SpaceGuard } from "./space_guard.ts";
import { b, put, s } from "./test_util.ts";

const MiB = 1024 * 1024;

test("SpaceGuard: refuses below the headroom or the write's size, needs twice as much to clear", () => {
  let free = 100 * MiB;
  const guard = new SpaceGuard("/d", 8 * MiB, () => free);
  guard.check(1024);
  assert.throws(() => guard.check(200 * MiB), DiskFullError);
  free = 7 * MiB;
  assert.throws(
    () => guard.check(0),
    (error: unknown) => isDiskFull(error),
  );
  free = 12 * MiB; // above the headroom, not twice it: still low
  assert.throws(() => guard.check(0), DiskFullError);
  free = 16 * MiB;
  guard.check(0);
  free = 12 * MiB; // cleared: the plain headroom applies again
  guard.check(0);
});

test("SpaceGuard: a file system it cannot measure does not stop writes", () => {
  const guard = new SpaceGuard("/d", 8 * MiB, () => {
    throw new Error("statfs not supported");
  });
  guard.check(0);
});

test("MvccStore on a full disk: apply throws DiskFullError and changes nothing; the same items apply once space is freed", async (t) => {
  const disk = mountTmpfs(t, 32 * MiB);
  if (disk === null) return;
  const store = MvccStore.open(join(disk, "kv"), { minFreeBytes: 4 * MiB });
  try {
    store.apply([{ index: 1, command: encodeCommand(put("a", "1")) }]);
    const ballast = join(disk, "ballast");
    fillDisk(ballast);
    const items = [
      { index: 2, command: encodeCommand(put("b", "2")) },
      { index: 3, command: encodeCommand(put("c", "3")) },
    ];
    assert.throws(() => store.apply(items), DiskFullError);
    assert.throws(() => store.apply(items), DiskFullError);
    assert.equal(store.appliedIndex, 1);
    assert.equal(store.revision, 2);
    assert.equal(store.range({ key: b("b") }).kvs.length, 0);

    rmSync(ballast);
    const results = store.apply(items);
    assert.equal(results.length, 2);
    assert.equal(store.appliedIndex, 3);
    assert.equal(s(store.range({ key: b("c") }).kvs[0]!.value), "3");
  } finally {
    await store.close();
  }
});

test("MvccStore.restore on a full disk: DiskFullError, and the old store stays open and whole", async (t) => {
  const disk = mountTmpfs(t, 32 * MiB);
  if (disk === null) return;
  const source = MvccStore.open(join(disk, "source"));
  source.apply([{ index: 1, command: encodeCommand(put("from-snapshot", "yes")) }]);
  const file = join(disk, "snapshot.mdb");
  await source.backup(file);
  await source.close();
  const store = MvccStore.open(join(disk, "kv"), { minFreeBytes: 4 * MiB });
  try {
    store.apply([{ index: 1, command: encodeCommand(put("own", "1")) }]);
    const ballast = join(disk, "ballast");
    fillDisk(ballast);
    await assert.rejects(store.restore(file), DiskFullError);
    assert.equal(s(store.range({ key: b("own") }).kvs[0]!.value), "1");

    rmSync(ballast);
    await store.restore(file);
    assert.equal(s(store.range({ key: b("from-snapshot") }).kvs[0]!.value), "yes");
    assert.equal(store.range({ key: b("own") }).kvs.length, 0);
  } finally {
    await store.close();
  }
});
