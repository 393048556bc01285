// The qmesh command line as a user runs it: bin/qmesh from the repository.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../bin/qmesh", import.meta.url));

function qmesh(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 60_000 });
}

describe("qmesh", () => {
  it("demo: runs a 3-member cluster through a leader crash and ends consistent", () => {
    const result = qmesh("demo", "--seed", "1");
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /crashing the leader/);
    assert.match(result.stdout, /replicas identical: yes/);
    assert.match(result.stdout, /history linearizable/);
  });

  it("demo: the same seed prints the same run", () => {
    assert.equal(qmesh("demo", "--seed", "5").stdout, qmesh("demo", "--seed", "5").stdout);
  });

  it("refuses a bad seed with a message naming the flag, exit code 2", () => {
    const result = qmesh("demo", "--seed", "x");
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--seed must be a non-negative integer, got "x"/);
  });

  it("refuses an unknown command or flag and points at --help, exit code 2", () => {
    for (const args of [["frobnicate"], ["demo", "--sede", "1"]]) {
      const result = qmesh(...args);
      assert.equal(result.status, 2, args.join(" "));
      assert.match(result.stderr, /unknown (command|option)/);
      assert.match(result.stderr, /qmesh --help/);
    }
  });

  it("--version prints the package version", () => {
    const result = qmesh("--version");
    assert.equal(result.status, 0);
    assert.match(result.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});
