// What a run leaves behind for whoever must understand a failure: histories, watch records,
// member output, the schedule and the command that replays it.
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatHistoryJsonLines, type KvOperation } from "../../src/check/index.ts";
import type { FaultCluster } from "./cluster.ts";
import type { RunOptions } from "./run.ts";
import type { WorkerFiles } from "./workers.ts";

export function saveArtifacts(
  options: RunOptions,
  label: string,
  run: {
    dir: string;
    history: readonly KvOperation[];
    serializable: readonly KvOperation[];
    files: WorkerFiles;
    schedule: readonly string[];
    cluster: FaultCluster;
  },
): string {
  const target = join(options.artifactsDir, label.replace(/[^a-z0-9+-]+/gi, "-"));
  mkdirSync(join(target, "logs"), { recursive: true });
  writeFileSync(join(target, "history.jsonl"), formatHistoryJsonLines(run.history));
  writeFileSync(join(target, "serializable.jsonl"), formatHistoryJsonLines(run.serializable));
  run.files.watch.forEach((file, i) => {
    if (existsSync(file)) cpSync(file, join(target, `watch-${i + 1}.jsonl`));
  });
  writeFileSync(join(target, "schedule.log"), `${run.schedule.join("\n")}\n`);
  writeFileSync(
    join(target, "reproduce.txt"),
    `npm run test:faults -- --seed ${options.seed} --nemesis ${options.nemeses.join(",")} --duration ${options.durationS} --members ${options.members}\n`,
  );
  for (const [name, text] of run.cluster.logs)
    writeFileSync(join(target, "logs", `${name}.log`), text);
  return target;
}
