import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EMPTY_CONF_STATE, type Entry, EntryType, MemoryStorage } from "../raft/index.ts";
import { Disk } from "./disk.ts";
import { Scheduler } from "./scheduler.ts";

function entries(first: number, last: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let index = first; index <= last; index++)
    out.push({ index, term, type: EntryType.Normal, data: new Uint8Array([index]) });
  return out;
}

describe("Disk", () => {
  it("makes a write durable only when its fsync completes", () => {
    const scheduler = new Scheduler();
    const disk = new Disk(scheduler, new MemoryStorage());
    let durable = false;
    disk.write(
      { snapshot: null, entries: entries(1, 3, 1), hardState: { term: 1, vote: 1, commit: 0 } },
      100,
      () => {
        durable = true;
      },
    );
    assert.equal(disk.recover().lastIndex(), 0);
    scheduler.runUntil(99);
    assert.equal(durable, false);
    scheduler.runUntil(100);
    assert.equal(durable, true);
    const recovered = disk.recover();
    assert.equal(recovered.lastIndex(), 3);
    assert.deepEqual(recovered.initialState().hardState, { term: 1, vote: 1, commit: 0 });
  });

  it("loses the write in flight on a crash", () => {
    const scheduler = new Scheduler();
    const disk = new Disk(scheduler, new MemoryStorage());
    disk.write({ snapshot: null, entries: entries(1, 2, 1), hardState: null }, 10, () => {});
    scheduler.runUntil(10);
    let called = false;
    disk.write(
      { snapshot: null, entries: entries(3, 4, 1), hardState: { term: 1, vote: 0, commit: 2 } },
      10,
      () => {
        called = true;
      },
    );
    disk.crash();
    scheduler.runUntil(50);
    assert.equal(called, false);
    assert.equal(disk.recover().lastIndex(), 2);
    assert.equal(disk.recover().initialState().hardState.commit, 0);
  });

  it("keeps a state machine snapshot and compacts behind it", () => {
    const scheduler = new Scheduler();
    const disk = new Disk(scheduler, new MemoryStorage());
    disk.write(
      { snapshot: null, entries: entries(1, 10, 2), hardState: { term: 2, vote: 0, commit: 10 } },
      1,
      () => {},
    );
    scheduler.runUntil(1);
    disk.saveSnapshot(8, { ...EMPTY_CONF_STATE, voters: [1, 2, 3] }, new Uint8Array([42]), 6);
    const recovered = disk.recover();
    assert.equal(recovered.snapshot().metadata.index, 8);
    assert.deepEqual([...recovered.snapshot().data], [42]);
    assert.equal(recovered.firstIndex(), 9);
    assert.equal(recovered.lastIndex(), 10);
  });
});
