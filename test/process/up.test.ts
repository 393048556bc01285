// `qmesh up` as a user runs it: endpoints printed, writes and reads through the CLI, Ctrl-C
// stops every member, and a second `up` finds the data again.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { BIN, eventually } from "./harness.ts";

function startUp(dir: string, basePort: number): { child: ChildProcess; output: () => string } {
  let text = "";
  const child = spawn(
    process.execPath,
    [BIN, "up", "--dir", dir, "--base-port", String(basePort)],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  return { child, output: () => text };
}

function cli(args: readonly string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 30_000 });
}

function stopped(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

describe("qmesh up", { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "qmesh-up-"));
  const basePort = 20_000 + Math.floor(Math.random() * 20_000);
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("prints endpoints, serves the CLI, stops on Ctrl-C and restarts with its data", async () => {
    const first = startUp(join(dir, ".qmesh"), basePort);
    await eventually(async () => assert.match(first.output(), /3-member cluster running/), 30_000);
    const endpoints = [0, 10, 20].map((offset) => `http://127.0.0.1:${basePort + offset}`);
    for (const endpoint of endpoints) assert.ok(first.output().includes(endpoint), first.output());
    assert.match(first.output(), new RegExp(`https://127\\.0\\.0\\.1:${basePort + 1}`));
    await eventually(async () => {
      const put = cli(["put", "greeting", "hello", "--endpoints", endpoints[0]!]);
      assert.equal(put.status, 0, put.stderr);
    });
    const get = cli(["get", "greeting", "--endpoints", endpoints[2]!]);
    assert.equal(get.stdout, "greeting\nhello\n");
    first.child.kill("SIGINT");
    assert.equal(await stopped(first.child), 0);
    // Every member is gone with it: the client port no longer answers.
    const afterStop = cli(["get", "greeting", "--endpoints", endpoints[1]!]);
    assert.equal(afterStop.status, 1);
    assert.match(afterStop.stderr, /no endpoint answered.*qmesh up/);

    const second = startUp(join(dir, ".qmesh"), basePort);
    await eventually(async () => assert.match(second.output(), /3-member cluster running/), 30_000);
    await eventually(async () => {
      const again = cli(["get", "greeting", "--endpoints", endpoints[1]!]);
      assert.equal(again.stdout, "greeting\nhello\n", again.stderr);
    });
    second.child.kill("SIGTERM");
    assert.equal(await stopped(second.child), 0);

    const wrongSize = cli([
      "up",
      "--dir",
      join(dir, ".qmesh"),
      "--base-port",
      String(basePort),
      "--nodes",
      "5",
    ]);
    assert.equal(wrongSize.status, 1);
    assert.match(wrongSize.stderr, /holds a 3-member cluster.*--nodes 3/);
    const badNodes = cli(["up", "--nodes", "zero"]);
    assert.equal(badNodes.status, 2);
    assert.match(badNodes.stderr, /--nodes must be an integer from 1 to 9/);
  });
});
