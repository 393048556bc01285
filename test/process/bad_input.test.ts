// Bad input gets a clear one-line error and a non-zero exit, and loses nothing acknowledged:
// unknown flags, a port in use, another cluster's data directory, a certificate that does not
// match, a corrupt WAL, an oversized request.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  writeSync,
} from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createClusterCertificates } from "../../src/transport/index.ts";
import { BIN, b64, TestCluster } from "./harness.ts";

function qmesh(args: readonly string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe("qmesh start with bad flags", () => {
  it("refuses an unknown flag with exit 2", () => {
    const result = qmesh(["start", "--name", "n1", "--bogus", "1"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown option '--bogus'/);
  });

  it("refuses a member name that cannot be a certificate's DNS name", () => {
    const result = qmesh([
      "start",
      "--name",
      "n_1",
      "--listen-peer-urls",
      "http://127.0.0.1:1",
      "--listen-client-urls",
      "http://127.0.0.1:2",
    ]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--name: "n_1" is not a valid member name/);
  });

  it("names the missing or malformed field", () => {
    const missing = qmesh(["start", "--listen-peer-urls", "http://127.0.0.1:1"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--name: is required/);
    const badUrl = qmesh([
      "start",
      "--name",
      "n1",
      "--listen-peer-urls",
      "127.0.0.1:2380",
      "--listen-client-urls",
      "http://127.0.0.1:1",
    ]);
    assert.equal(badUrl.code, 2);
    assert.match(
      badUrl.stderr,
      /--listen-peer-urls: "127.0.0.1:2380" is not a http: or https:\/\/host:port URL/,
    );
    const badNumber = qmesh([
      "start",
      "--name",
      "n1",
      "--listen-peer-urls",
      "http://127.0.0.1:1",
      "--listen-client-urls",
      "http://127.0.0.1:2",
      "--heartbeat-interval",
      "fast",
    ]);
    assert.equal(badNumber.code, 2);
    assert.match(badNumber.stderr, /--heartbeat-interval: must be an integer/);
  });
});

describe("a member that cannot start safely", { timeout: 60_000 }, () => {
  const cluster = new TestCluster();
  after(() => cluster.destroy());

  it("reports a client port in use, naming the address and the flag", async () => {
    const [spec] = await cluster.define(["n1"]);
    const blocker = createServer();
    const port = Number(new URL(spec!.clientUrl).port);
    await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", resolve));
    try {
      await assert.rejects(
        cluster.start("n1", ["n1"]),
        /127\.0\.0\.1:\d+ is already in use.*--listen-client-urls/,
      );
    } finally {
      blocker.close();
    }
  });

  it("refuses another cluster's data directory and a certificate for someone else", async () => {
    await cluster.start("n1", ["n1"]);
    await cluster.waitForLeader(["n1"]);
    await cluster.put("n1", "kept", "yes");
    await cluster.kill9("n1");
    const other = new TestCluster();
    other.specs.set("n1", cluster.spec("n1"));
    await createClusterCertificates(other.certDir, ["n1"]);
    await assert.rejects(other.start("n1", ["n1"]), /belongs to cluster/);
    // A certificate issued to n2, presented as n1's.
    await createClusterCertificates(cluster.certDir, ["n2"]);
    const wrongDir = join(cluster.dir, "wrong-certs");
    mkdirSync(wrongDir);
    copyFileSync(join(cluster.certDir, "ca.crt"), join(wrongDir, "ca.crt"));
    copyFileSync(join(cluster.certDir, "n2.crt"), join(wrongDir, "n1.crt"));
    copyFileSync(join(cluster.certDir, "n2.key"), join(wrongDir, "n1.key"));
    await assert.rejects(
      cluster.start("n1", ["n1"], "new", ["--cert-dir", wrongDir]),
      /n1\.crt.*issued to "n2"/,
    );
    await other.destroy();
    // The right configuration still finds everything.
    await cluster.start("n1", ["n1"]);
    await cluster.waitForLeader(["n1"]);
    assert.equal(await cluster.get("n1", "kept"), "yes");
  });

  it("refuses an oversized request and keeps working", async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 1).toString("base64");
    const { status, body } = await cluster.call("n1", "/v3/kv/put", {
      key: b64("big"),
      value: big,
    });
    assert.equal(status, 413);
    assert.match(String(body.message), /request is too large/);
    const justOver = Buffer.alloc(1.5 * 1024 * 1024, 2).toString("base64");
    const second = await cluster.call("n1", "/v3/kv/put", { key: b64("big"), value: justOver });
    assert.equal(second.status, 413);
    const malformed = await cluster.call("n1", "/v3/kv/txn", { success: [{ request_put: null }] });
    assert.equal(malformed.status, 400);
    assert.match(String(malformed.body.message), /"request_put" must be an object/);
    await cluster.put("n1", "after", "fine");
    assert.equal(await cluster.get("n1", "after"), "fine");
    assert.equal(await cluster.get("n1", "big"), null);
  });

  it("stops on a corrupt WAL record, naming the file and offset", async () => {
    for (let i = 0; i < 50; i++) await cluster.put("n1", `k${i}`, "x".repeat(100));
    await cluster.kill9("n1");
    const walDir = join(cluster.spec("n1").dataDir, "wal");
    const segment = join(
      walDir,
      readdirSync(walDir)
        .filter((f) => f.endsWith(".wal"))
        .sort()[0]!,
    );
    // Flip a byte well inside the written part (records follow it, so it is not a torn tail).
    const fd = openSync(segment, "r+");
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, 2000);
    byte[0]! ^= 0xff;
    writeSync(fd, byte, 0, 1, 2000);
    closeSync(fd);
    await assert.rejects(cluster.start("n1", ["n1"]), (error: Error) => {
      assert.match(
        error.message,
        new RegExp(`${segment.split("/").at(-1)!.replace(".", "\\.")}.*offset`),
      );
      return true;
    });
  });
});
