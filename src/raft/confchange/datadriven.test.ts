// Runs the scenarios in testdata/*.txt (in the style of etcd's datadriven tests). Each file is
// a sequence of blocks, applied in order to one configuration that starts empty:
//
//   # comment
//   enter-joint autoleave=true v2 l3 r1
//   ----
//   voters=(2)&&(1) learners=(3) learners_next=() autoleave
//   1: StateProbe match=0 next=1
//
// Commands: `simple <changes>`, `enter-joint [autoleave=true|false] <changes>`, `leave-joint`;
// a change is v<id> (AddNode), l<id> (AddLearnerNode) or r<id> (RemoveNode). The output is the
// new configuration and one line per member, or `error: <message>` (the config is unchanged).
// The changer's last index starts at 0 and grows by one per command, so a new member's `next`
// tells which command added it.
//
// QMESH_REWRITE=1 rewrites the expected output from the actual one (review the diff!).
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { formatTrackerConfig, ProgressTracker } from "../tracker/index.ts";
import { type ConfChangeSingle, ConfChangeType } from "../types.ts";
import { ConfChanger, type ConfigAndProgress } from "./confchange.ts";

const TESTDATA = join(import.meta.dirname, "testdata");
const SEPARATOR = "----";

const CHANGE_TYPES: Record<string, ConfChangeType> = {
  v: ConfChangeType.AddNode,
  l: ConfChangeType.AddLearnerNode,
  r: ConfChangeType.RemoveNode,
};

function parseChange(token: string): ConfChangeSingle {
  const type = CHANGE_TYPES[token[0] ?? ""];
  const nodeId = Number(token.slice(1));
  if (type === undefined || !Number.isInteger(nodeId)) throw new Error(`bad change "${token}"`);
  return { type, nodeId };
}

class Scenario {
  private readonly tracker = new ProgressTracker(10, 0);
  private lastIndex = 0;

  run(command: string): string[] {
    try {
      const next = this.apply(command);
      this.tracker.config = next.config;
      this.tracker.progress = next.progress;
      return this.describe();
    } catch (error) {
      if (!(error instanceof Error) || error.name !== "ConfChangeError") throw error;
      return [`error: ${error.message}`];
    } finally {
      this.lastIndex++;
    }
  }

  private apply(command: string): ConfigAndProgress {
    const [verb, ...args] = command.split(/\s+/).filter((word) => word !== "");
    const changer = new ConfChanger(this.tracker, this.lastIndex);
    switch (verb) {
      case "simple":
        return changer.simple(args.map(parseChange));
      case "enter-joint": {
        const autoLeave = args[0]?.startsWith("autoleave=") === true;
        const changes = autoLeave ? args.slice(1) : args;
        return changer.enterJoint(args[0] === "autoleave=true", changes.map(parseChange));
      }
      case "leave-joint":
        if (args.length > 0) throw new Error("leave-joint takes no arguments");
        return changer.leaveJoint();
      default:
        throw new Error(`unknown command "${command}"`);
    }
  }

  private describe(): string[] {
    const lines = [formatTrackerConfig(this.tracker.config)];
    this.tracker.visit((id, progress) => lines.push(`${id}: ${progress}`));
    return lines;
  }
}

/** The file with every expected output replaced by the actual one. */
function rerun(text: string): string {
  const lines = text.split("\n");
  const out: string[] = [];
  const scenario = new Scenario();
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === "" || line.startsWith("#")) {
      out.push(line);
      i++;
      continue;
    }
    if (lines[i + 1] !== SEPARATOR) throw new Error(`line ${i + 2}: expected "${SEPARATOR}"`);
    out.push(line, SEPARATOR, ...scenario.run(line));
    i += 2;
    while (i < lines.length && lines[i]!.trim() !== "") i++;
  }
  return out.join("\n");
}

describe("confchange scenarios (testdata)", () => {
  const files = readdirSync(TESTDATA)
    .filter((name) => name.endsWith(".txt"))
    .sort();
  it("has scenario files", () => assert.ok(files.length > 0));
  for (const name of files) {
    it(name, () => {
      const path = join(TESTDATA, name);
      const expected = readFileSync(path, "utf8");
      const actual = rerun(expected);
      if (process.env.QMESH_REWRITE === "1") writeFileSync(path, actual);
      assert.equal(actual, expected);
    });
  }
});
