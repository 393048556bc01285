// The fault schedule: quiet spells and faults, alternating, chosen from the run's seed.
import { pick } from "../../src/sim/random_helpers.ts";
import { sleep } from "./cluster.ts";
import { type Fault, type NemesisContext, type NemesisName, START } from "./nemesis.ts";
import type { RunOptions } from "./run.ts";

/** Quiet, fault, quiet, fault…: returns the fault windows in monotonic ns. */
export async function runSchedule(
  options: RunOptions,
  ctx: NemesisContext,
  log: (line: string) => void,
): Promise<[number, number][]> {
  const windows: [number, number][] = [];
  const end = Date.now() + options.durationS * 1000;
  const { random } = ctx;
  while (Date.now() + 4_000 < end) {
    await sleep(Math.min(1_500 + random.nextInt(2_500), end - Date.now()));
    if (Date.now() + 3_000 > end) break;
    const chosen: NemesisName[] = [pick(random, options.nemeses)];
    // Mixed runs sometimes stack two faults (e.g. a membership change during a partition).
    if (options.nemeses.length > 1 && random.nextFloat() < 0.3) {
      const second = pick(random, options.nemeses);
      if (second !== chosen[0]) chosen.push(second);
    }
    const from = Number(process.hrtime.bigint());
    const faults: Fault[] = [];
    for (const name of chosen) {
      try {
        const fault = await START[name](ctx);
        faults.push(fault);
        log(`fault: ${fault.description}`);
      } catch (error) {
        log(`${name} could not start: ${(error as Error).message}`);
      }
    }
    await sleep(Math.max(0, Math.min(3_000 + random.nextInt(4_000), end - Date.now() - 2_000)));
    for (const fault of faults.reverse()) {
      try {
        await fault.heal();
      } catch (error) {
        log(`healing "${fault.description}" failed: ${(error as Error).message}`);
      }
    }
    windows.push([from, Number(process.hrtime.bigint())]);
    log("healed");
  }
  await sleep(Math.max(0, end - Date.now()));
  return windows;
}
