import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Scheduler, SchedulerLimitError } from "./scheduler.ts";

describe("Scheduler", () => {
  it("runs events in time order, ties in the order they were scheduled", () => {
    const scheduler = new Scheduler();
    const seen: string[] = [];
    scheduler.at(20, () => seen.push("b"));
    scheduler.at(10, () => seen.push("a"));
    scheduler.at(20, () => seen.push("c"));
    scheduler.at(20, () => seen.push("d"));
    scheduler.runUntil(100);
    assert.deepEqual(seen, ["a", "b", "c", "d"]);
    assert.equal(scheduler.nowUs, 100);
  });

  it("stops at the horizon and keeps later events for the next run", () => {
    const scheduler = new Scheduler();
    const seen: number[] = [];
    for (const time of [5, 15, 25]) scheduler.at(time, () => seen.push(time));
    scheduler.runUntil(15);
    assert.deepEqual(seen, [5, 15]);
    assert.equal(scheduler.pendingEvents, 1);
    scheduler.runUntil(30);
    assert.deepEqual(seen, [5, 15, 25]);
  });

  it("never schedules into the past and lets an event schedule more", () => {
    const scheduler = new Scheduler();
    const times: number[] = [];
    scheduler.at(10, () => {
      times.push(scheduler.nowUs);
      scheduler.at(3, () => times.push(scheduler.nowUs));
      scheduler.after(5, () => times.push(scheduler.nowUs));
    });
    scheduler.runUntil(100);
    assert.deepEqual(times, [10, 10, 15]);
  });

  it("ends early when asked to stop", () => {
    const scheduler = new Scheduler();
    let count = 0;
    for (let i = 1; i <= 10; i++) scheduler.at(i, () => count++);
    const finished = scheduler.runUntil(100, () => count === 3);
    assert.equal(finished, false);
    assert.equal(count, 3);
  });

  it("refuses to grow past its bound", () => {
    const scheduler = new Scheduler(2);
    scheduler.after(1, () => {});
    scheduler.after(1, () => {});
    assert.throws(() => scheduler.after(1, () => {}), SchedulerLimitError);
  });
});
