import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { crc32c } from "./crc32c.ts";
import { SnapshotChecksumError } from "./errors.ts";
import { readChunks, SnapshotFiles } from "./snapshot_files.ts";
import { withTempDir } from "./test_helpers.ts";

const content = (bytes: number, seed = 1) =>
  new Uint8Array(bytes).map((_, i) => (i * 31 + seed) & 0xff);

test("publish is atomic: a temp file until published, leftovers removed on restart", async () => {
  await withTempDir(async (root) => {
    const dir = join(root, "snap");
    const files = new SnapshotFiles(dir);
    const temp = files.tempPath();
    assert.ok(temp.endsWith(".tmp"));
    writeFileSync(temp, content(1000));
    assert.equal(files.latest(), null, "an unpublished temp file is not a snapshot");
    const path = await files.publish(temp, 3, 42);
    assert.equal(path, join(dir, "0000000000000003-000000000000002a.snap"));
    assert.deepEqual(files.latest(), { path, term: 3, index: 42 });
    assert.deepEqual(readdirSync(dir), ["0000000000000003-000000000000002a.snap"]);
    writeFileSync(files.tempPath(), "left by a crash");
    const restarted = new SnapshotFiles(dir);
    assert.deepEqual(readdirSync(dir), ["0000000000000003-000000000000002a.snap"]);
    assert.deepEqual(restarted.latest(), { path, term: 3, index: 42 });
  });
});

test("checksum streams a file and matches crc32c of its bytes", async () => {
  await withTempDir(async (dir) => {
    const files = new SnapshotFiles(dir);
    const data = content(3 * 1024 * 1024 + 17);
    const path = files.tempPath();
    writeFileSync(path, data);
    assert.equal(await files.checksum(path), crc32c(data));
  });
});

test("a snapshot streamed in chunks is received, verified and published", async () => {
  await withTempDir(async (root) => {
    const sender = new SnapshotFiles(join(root, "a"));
    const receiver = new SnapshotFiles(join(root, "b"));
    const data = content(200_000);
    const source = sender.tempPath();
    writeFileSync(source, data);
    const published = await sender.publish(source, 2, 100);
    const incoming = receiver.receive(data.length, await sender.checksum(published));
    for await (const chunk of readChunks(published, 64 * 1024)) await incoming.write(chunk);
    const path = await incoming.finish(2, 100);
    assert.deepEqual(new Uint8Array(readFileSync(path)), data);
    assert.deepEqual(readdirSync(join(root, "b")), ["0000000000000002-0000000000000064.snap"]);
  });
});

test("a receiver with the wrong checksum throws and leaves no file", async () => {
  await withTempDir(async (dir) => {
    const files = new SnapshotFiles(dir);
    const data = content(5000);
    const incoming = files.receive(data.length, crc32c(data) ^ 1);
    await incoming.write(data.subarray(0, 2000));
    await incoming.write(data.subarray(2000));
    await assert.rejects(incoming.finish(1, 10), (error: unknown) => {
      assert.ok(error instanceof SnapshotChecksumError);
      assert.equal(error.expectedChecksum, (crc32c(data) ^ 1) >>> 0);
      assert.equal(error.actualChecksum, crc32c(data));
      return true;
    });
    assert.deepEqual(readdirSync(dir), []);
  });
});

test("a receiver given more or fewer bytes than announced throws and leaves no file", async () => {
  await withTempDir(async (dir) => {
    const files = new SnapshotFiles(dir);
    const data = content(100);
    const tooMuch = files.receive(50, crc32c(data));
    await tooMuch.write(data.subarray(0, 40));
    await assert.rejects(tooMuch.write(data.subarray(40)), {
      name: "SnapshotChecksumError",
      actualBytes: 100,
    });
    const tooLittle = files.receive(100, crc32c(data));
    await tooLittle.write(data.subarray(0, 99));
    await assert.rejects(tooLittle.finish(1, 1), {
      name: "SnapshotChecksumError",
      actualBytes: 99,
    });
    const aborted = files.receive(100, crc32c(data));
    await aborted.write(data.subarray(0, 10));
    await aborted.abort();
    assert.deepEqual(readdirSync(dir), []);
  });
});

test("prune keeps the newest snapshots", async () => {
  await withTempDir(async (dir) => {
    const files = new SnapshotFiles(dir);
    for (const [term, index] of [
      [1, 10],
      [2, 300],
      [2, 40],
      [3, 1000],
    ] as const) {
      const temp = files.tempPath();
      writeFileSync(temp, `${term}/${index}`);
      await files.publish(temp, term, index);
    }
    await files.prune(2);
    assert.deepEqual(
      files.list().map((file) => [file.term, file.index]),
      [
        [2, 300],
        [3, 1000],
      ],
    );
    assert.equal(files.latest()?.index, 1000);
    await files.prune(1);
    assert.deepEqual(readdirSync(dir), ["0000000000000003-00000000000003e8.snap"]);
  });
});
