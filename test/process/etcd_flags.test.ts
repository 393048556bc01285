// An etcd command line carries over: a member starts from etcd's flag names, serves etcdctl,
// and compacts on its own with --auto-compaction-mode/--auto-compaction-retention.
import assert from "node:assert/strict";
import { type ChildProcess, fork, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { BIN, freePorts, sleep } from "./harness.ts";

function etcdctl(endpoint: string, args: readonly string[]) {
  const result = spawnSync(
    "etcdctl",
    [`--endpoints=${endpoint}`, "--command-timeout=5s", ...args],
    {
      encoding: "utf8",
      timeout: 20_000,
      env: { ...process.env, ETCDCTL_API: "3" },
    },
  );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("etcd's flags", { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "qmesh-etcd-flags-"));
  let child: ChildProcess | null = null;
  after(() => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("start a member from a typical etcd command line", async () => {
    const [client, peer] = await freePorts(2);
    const clientUrl = `http://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    // As an etcd user writes it (etcd 3.4 would accept this line as is).
    const args = [
      "start",
      "--name=infra0",
      `--data-dir=${join(dir, "infra0.etcd")}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=infra0=${peerUrl}`,
      "--initial-cluster-token=etcd-cluster-1",
      "--initial-cluster-state=new",
      "--heartbeat-interval=100",
      "--election-timeout=1000",
      "--snapshot-count=10000",
      "--quota-backend-bytes=8589934592",
      "--max-request-bytes=1572864",
      "--auto-compaction-mode=periodic",
      "--auto-compaction-retention=1s",
      "--log-level=warn",
    ];
    let output = "";
    child = fork(BIN, args, { stdio: ["ignore", "pipe", "pipe", "ipc"] });
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk));
    await new Promise<void>((resolve, reject) => {
      child!.on("message", (message: { type?: string; message?: string }) =>
        message.type === "started" ? resolve() : reject(new Error(message.message)),
      );
      child!.on("exit", (code) => reject(new Error(`exited with ${code}: ${output}`)));
    });

    let put = etcdctl(clientUrl, ["put", "x", "1"]);
    for (let i = 0; put.code !== 0 && i < 50; i++) {
      await sleep(100); // the first election
      put = etcdctl(clientUrl, ["put", "x", "1"]);
    }
    assert.equal(put.code, 0, put.stderr);
    assert.equal(etcdctl(clientUrl, ["put", "x", "2"]).code, 0);
    const members = etcdctl(clientUrl, ["member", "list"]);
    assert.match(members.stdout, new RegExp(`infra0, ${peerUrl}, ${clientUrl}`));

    // Periodic retention of 1 s: within a few seconds the first revisions are compacted away.
    let old = etcdctl(clientUrl, ["get", "x", "--rev=2"]);
    for (let i = 0; !/compacted/.test(old.stderr) && i < 50; i++) {
      await sleep(100);
      old = etcdctl(clientUrl, ["get", "x", "--rev=2"]);
    }
    assert.match(old.stderr, /required revision has been compacted/);
    assert.equal(etcdctl(clientUrl, ["get", "x", "--print-value-only"]).stdout, "2\n");
  });
});
