// The simulator over the real core: a sweep with every fault finds no violation, a seed replays
// byte for byte, a healthy cluster makes progress, and the command line behaves.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runSimulation } from "./simulation.ts";

/**
 * Seeds swept by `npm test` (and so by CI) across 3-, 5- and 7-member clusters, on both cores.
 * QMESH_SIM_SEEDS overrides it for a quicker local run.
 */
const TEST_SWEEP_SEEDS = Number(process.env.QMESH_SIM_SEEDS ?? 2000);
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

describe("simulator", () => {
  it(`finds no violation in ${TEST_SWEEP_SEEDS} seeds of faults`, () => {
    const result = spawnSync(
      process.execPath,
      ["--import", "tsx", MAIN, "--seeds", String(TEST_SWEEP_SEEDS), "--jobs", "2"],
      { encoding: "utf8", timeout: 15 * 60 * 1000 },
    );
    const summary = result.stdout.split("\n").find((line) => line.startsWith("sweep seeds"));
    assert.equal(result.status, 0, `${summary}\n${result.stdout.slice(-4000)}\n${result.stderr}`);
    assert.match(summary ?? "", new RegExp(`${TEST_SWEEP_SEEDS} run, 0 failed`));
    const sizes = /sizes 3:(\d+) 5:(\d+) 7:(\d+)/.exec(summary ?? "");
    assert.ok(sizes?.slice(1).every((count) => Number(count) > 0) === true, summary);
    const crashes = /(\d+) crashes/.exec(summary ?? "");
    const changes = /(\d+) membership changes/.exec(summary ?? "");
    assert.ok(Number(crashes?.[1]) > 0 && Number(changes?.[1]) > 0, `faults expected: ${summary}`);
  });

  it("replays a seed exactly: same seed, same trace", () => {
    for (const seed of [7, 1234]) {
      const first = runSimulation({ seed, traceDigest: true });
      const second = runSimulation({ seed, traceDigest: true });
      assert.equal(first.violation, null);
      assert.equal(first.traceDigest, second.traceDigest);
      assert.deepEqual(first.stats, second.stats);
    }
    const other = runSimulation({ seed: 8, traceDigest: true });
    assert.notEqual(other.traceDigest, runSimulation({ seed: 7, traceDigest: true }).traceDigest);
  });

  it("a healthy cluster elects one leader and serves every client", () => {
    for (const clusterSize of [3, 5, 7] as const) {
      const result = runSimulation({
        seed: 42,
        overrides: {
          clusterSize,
          noFaults: true,
          faultPhaseTicks: 500,
          network: { lossChance: 0, duplicateChance: 0, tailChance: 0 },
        },
      });
      assert.equal(result.violation, null);
      assert.equal(result.stats.opsUnknown, 0, "no fault, so no attempt should time out");
      assert.ok(
        result.stats.opsCompleted > 100,
        `only ${result.stats.opsCompleted} operations completed`,
      );
      assert.ok(
        result.stats.highestTerm <= 3,
        `term ${result.stats.highestTerm}: elections without faults`,
      );
      assert.ok(result.stats.committedIndex > 50);
    }
  });
});

describe("seeds that found core bugs (docs/simulator.md)", () => {
  // Regressions: each seed once found a core bug (now fixed).
  it("seeds 2102 and 2343: a snapshot restored while conf changes are being applied", () => {
    for (const seed of [2102, 2343])
      assert.equal(runSimulation({ seed }).violation?.message ?? null, null);
  });
});

describe("npm run sim", () => {
  const main = fileURLToPath(new URL("./main.ts", import.meta.url));
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", main, ...args], { encoding: "utf8" });

  it("replays one seed and exits 0 when it passes", () => {
    const result = run("--seed", "3", "--ticks", "200");
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^seed 3: ok/);
  });

  it("prints a trace with --trace", () => {
    const result = run("--seed", "3", "--ticks", "100", "--trace");
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /role leader term \d+/);
    assert.match(result.stdout, /send Append/);
  });

  it("prints the seed, the invariant and the replay command of a failure, and exits 1", () => {
    const result = run("--seeds", "5", "--bug", "respondBeforePersist", "--first-failure");
    assert.equal(result.status, 1);
    assert.match(result.stdout, /FAIL seed \d+: durability violated/);
    assert.match(
      result.stdout,
      /replay: +npm run sim -- --seed \d+ --trace --bug respondBeforePersist/,
    );
  });

  it("refuses unknown flags with the usage, exit 2", () => {
    const result = run("--sed", "1");
    assert.equal(result.status, 2);
    assert.match(result.stderr, /Unknown option '--sed'/);
    assert.match(result.stderr, /usage:/);
  });
});
