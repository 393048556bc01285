// DiskRetry: a write that fails on a full disk is retried until it succeeds, said once per
// episode; any other failure is thrown at once; stop() ends a wait.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DiskFullError } from "../storage/index.ts";
import { DiskRetry, DiskRetryStoppedError } from "./disk_retry.ts";

const enospc = () =>
  Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });

function recorder() {
  const events: string[] = [];
  return {
    events,
    hooks: {
      onFull: (path: string, error: Error) => events.push(`full ${path} ${error.message}`),
      onRecovered: (path: string) => events.push(`recovered ${path}`),
    },
  };
}

test("retries a disk-full write until it succeeds; reports the episode once each way", async () => {
  const { events, hooks } = recorder();
  const retry = new DiskRetry(hooks, 2);
  let attempts = 0;
  const result = await retry.run("/data/wal", () => {
    attempts++;
    if (attempts === 1) throw enospc();
    if (attempts <= 4) throw new DiskFullError("/data/wal", "0 bytes free");
    assert.equal(retry.full, true);
    return "written";
  });
  assert.equal(result, "written");
  assert.equal(attempts, 5);
  assert.equal(retry.full, false);
  assert.deepEqual(events, [
    "full /data/wal ENOSPC: no space left on device, write",
    "recovered /data/wal",
  ]);
  // A later success reports nothing; a later failure is a new episode.
  await retry.run("/data/kv", () => 1);
  let again = 0;
  await retry.run("/data/kv", async () => {
    if (again++ === 0) throw enospc();
  });
  assert.equal(events.length, 4);
  assert.match(events[2]!, /^full \/data\/kv/);
});

test("any other error is thrown at once, without a retry", async () => {
  const { events, hooks } = recorder();
  const retry = new DiskRetry(hooks, 2);
  let attempts = 0;
  await assert.rejects(
    retry.run("/data/wal", () => {
      attempts++;
      throw Object.assign(new Error("EIO: i/o error"), { code: "EIO" });
    }),
    /EIO/,
  );
  assert.equal(attempts, 1);
  assert.deepEqual(events, []);
});

test("stop() ends a wait at once: the write is not tried again", async () => {
  const { hooks } = recorder();
  const retry = new DiskRetry(hooks, 60_000);
  let attempts = 0;
  const waiting = retry.run("/data/kv", () => {
    attempts++;
    throw enospc();
  });
  await new Promise((resolve) => setImmediate(resolve));
  const started = performance.now();
  retry.stop();
  await assert.rejects(waiting, DiskRetryStoppedError);
  assert.ok(performance.now() - started < 1_000);
  assert.equal(attempts, 1);
  await assert.rejects(
    retry.run("/data/kv", () => 1),
    DiskRetryStoppedError,
  );
});
