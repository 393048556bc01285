// The WAL against a naive model of Raft's log: random appends (with overwrites), snapshot
// markers (matching the log or replacing it), hard states, syncs and reopens.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  EMPTY_CONF_STATE,
  type Entry,
  type HardState,
  type SnapshotMetadata,
} from "../raft/index.ts";
import { makeEntries, plain, withTempDir } from "./test_helpers.ts";
import { Wal } from "./wal.ts";

type Step =
  | { kind: "append"; back: number; count: number; dataBytes: number }
  | { kind: "snapshot"; back: number; replace: boolean }
  | { kind: "reopen" };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("append" as const),
      back: fc.nat(6),
      count: fc.integer({ min: 1, max: 30 }),
      dataBytes: fc.nat(700),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("snapshot" as const),
      back: fc.nat(10),
      replace: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reopen" as const) }) },
);

/** The model: entries after `base`, the latest snapshot and hard state. */
class Model {
  base = 0;
  baseTerm = 0;
  entries: Entry[] = [];
  snapshot: SnapshotMetadata | null = null;
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  term = 1;
  termAt(index: number): number {
    return index === this.base ? this.baseTerm : this.entries[index - this.base - 1]!.term;
  }
  get last(): number {
    return this.base + this.entries.length;
  }
}

test("recovery equals a naive model of the log after random operations", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(stepArbitrary, { minLength: 1, maxLength: 40 }), async (steps) => {
      await withTempDir(async (dir) => {
        const options = { segmentBytes: 4096 };
        let { wal } = await Wal.open(dir, options);
        const model = new Model();
        for (const step of steps) {
          if (step.kind === "reopen") {
            await wal.close();
            const opened = await Wal.open(dir, options);
            wal = opened.wal;
            check(opened.recovered, model);
            continue;
          }
          model.term++;
          if (step.kind === "append") {
            const first = Math.max(model.base + 1, model.last + 1 - step.back);
            const entries = makeEntries(first, first + step.count - 1, model.term, step.dataBytes);
            model.entries = [...model.entries.slice(0, first - model.base - 1), ...entries];
            model.hardState = {
              term: model.term,
              vote: 1,
              commit: Math.min(model.base + 1, model.last),
            };
            wal.append(entries, model.hardState);
          } else {
            const index = step.replace
              ? model.last + step.back
              : Math.max(model.base, model.last - step.back);
            if (index < (model.snapshot?.index ?? 0)) continue;
            // A local snapshot matches the log; a received one (new term) replaces it.
            const term = step.replace ? model.term : model.termAt(index);
            model.entries = step.replace ? [] : model.entries.slice(index - model.base);
            model.base = index;
            model.baseTerm = term;
            model.snapshot = {
              index,
              term,
              confState: { ...EMPTY_CONF_STATE, voters: [index % 3] },
            };
            wal.append([], null, model.snapshot);
          }
          if (model.term % 3 === 0) await wal.sync();
        }
        await wal.close();
        const reopened = await Wal.open(dir, options);
        check(reopened.recovered, model);
        await reopened.wal.close();
      });
    }),
    { numRuns: 40 },
  );
});

function check(recovered: Awaited<ReturnType<typeof Wal.open>>["recovered"], model: Model): void {
  assert.deepEqual(recovered.snapshot, model.snapshot);
  assert.deepEqual(recovered.hardState, model.hardState);
  assert.deepEqual(plain(recovered.entries), plain(model.entries));
}
