// DiskAlarm: while the disk is full, ask the leader (straight over the wire) to raise NOSPACE for
// this member, handing leadership over first if we lead; once the disk has room, clear only
// the alarm we raised.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type AlarmMember, type Command, NOSPACE } from "../kv/index.ts";
import { type Message, MessageType, message, type NodeId, type RaftStatus } from "../raft/index.ts";
import { DiskAlarm } from "./disk_alarm.ts";

const ME = 3;
const TIMING = { resendMs: 5_000, handOffMs: 1_000, graceMs: 30_000 };

function status(role: "leader" | "follower", leader: NodeId, match = new Map<NodeId, number>()) {
  return {
    id: ME,
    hardState: { term: 7, vote: 0, commit: 10 },
    softState: { leader, role },
    appliedIndex: 10,
    commitIndex: 10,
    lastIndex: 12,
    confState: {
      voters: [1, 2, 3],
      learners: [4],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    },
    leadTransferee: 0,
    progress: new Map(
      [...match].map(([id, m]) => [
        id,
        { match: m, next: m + 1, state: "replicate", isLearner: id === 4 },
      ]),
    ),
  } as unknown as RaftStatus;
}

function harness() {
  const world = {
    full: true,
    now: 0,
    status: status("follower", 1),
    alarms: [] as AlarmMember[],
    overQuota: false,
    sent: [] as Message[],
    proposed: [] as Command[],
  };
  const alarm = new DiskAlarm(
    {
      id: ME,
      full: () => world.full,
      raftStatus: () => world.status,
      send: (message) => world.sent.push(message),
      // The core's message, as RawNode.timeoutNowMessage builds it for the current term.
      timeoutNow: (to) =>
        message({ type: MessageType.TimeoutNow, from: ME, to, term: world.status.hardState.term }),
      entry: (command) => new TextEncoder().encode(JSON.stringify(command)),
      alarms: () => world.alarms,
      overQuota: () => world.overQuota,
      deactivate: async (command) => {
        world.proposed.push(command);
      },
      now: () => world.now,
      info: () => {},
      warn: () => {},
    },
    TIMING,
  );
  return { world, alarm };
}

const raisedBy = (id: NodeId): AlarmMember => ({ memberId: id, alarm: NOSPACE });
const flush = () => new Promise((resolve) => setImmediate(resolve));

test("a full follower asks its leader, with a forwarded proposal, and asks again only now and then", () => {
  const { world, alarm } = harness();
  alarm.tick();
  assert.equal(world.sent.length, 1);
  const [ask] = world.sent;
  assert.equal(ask!.type, MessageType.Propose);
  assert.equal(ask!.to, 1);
  assert.equal(ask!.from, ME);
  assert.equal(ask!.term, 0, "a forwarded proposal carries no term");
  assert.deepEqual(JSON.parse(new TextDecoder().decode(ask!.entries[0]!.data)), {
    op: "alarm",
    action: "activate",
    memberId: ME,
    alarm: NOSPACE,
  });
  world.now = 4_000;
  alarm.tick();
  assert.equal(world.sent.length, 1);
  world.now = 5_000;
  alarm.tick();
  assert.equal(world.sent.length, 2);
  world.status = status("follower", 2); // a new leader is asked at once
  alarm.tick();
  assert.equal(world.sent.length, 3);
  assert.equal(world.sent[2]!.to, 2);
  world.status = status("follower", 0); // nobody to ask
  world.now = 20_000;
  alarm.tick();
  assert.equal(world.sent.length, 3);
});

test("a full leader hands leadership to its most caught-up voter first, then asks the new leader", () => {
  const { world, alarm } = harness();
  world.status = status(
    "leader",
    ME,
    new Map([
      [1, 8],
      [2, 12],
      [3, 12],
      [4, 12],
    ]),
  );
  alarm.tick();
  assert.equal(world.sent.length, 1);
  assert.equal(world.sent[0]!.type, MessageType.TimeoutNow);
  assert.equal(world.sent[0]!.to, 2, "the voter with the highest match, never the learner");
  assert.equal(world.sent[0]!.term, 7);
  alarm.tick();
  assert.equal(world.sent.length, 1, "one hand-off per election timeout");
  world.now = 1_000;
  alarm.tick();
  assert.equal(world.sent.length, 2);
  world.status = status("follower", 2);
  alarm.tick();
  assert.equal(world.sent[2]!.type, MessageType.Propose);
  assert.equal(world.sent[2]!.to, 2);
});

test("once the disk has room and the alarm is applied, it is cleared, by a normal proposal", async () => {
  const { world, alarm } = harness();
  alarm.tick();
  world.full = false;
  alarm.tick(); // not applied here yet: nothing to clear
  assert.deepEqual(world.proposed, []);
  world.alarms = [raisedBy(1), raisedBy(ME)];
  alarm.tick();
  alarm.tick(); // one at a time
  await flush();
  assert.equal(world.proposed.length, 1);
  assert.deepEqual(world.proposed[0], {
    op: "alarm",
    action: "deactivate",
    memberId: ME,
    alarm: NOSPACE,
  });
  // An activation applied late (sent before the disk recovered) is cleared again...
  world.alarms = [raisedBy(1)];
  alarm.tick();
  world.alarms = [raisedBy(1), raisedBy(ME)];
  alarm.tick();
  await flush();
  assert.equal(world.proposed.length, 2);
  // ...but not after the grace period: then it is someone else's.
  world.alarms = [raisedBy(1)];
  world.now = TIMING.graceMs;
  alarm.tick();
  world.alarms = [raisedBy(1), raisedBy(ME)];
  alarm.tick();
  await flush();
  assert.equal(world.proposed.length, 2);
});

test("an alarm that was there before the disk filled, or a store over quota, is left to the operator", async () => {
  const { world, alarm } = harness();
  world.alarms = [raisedBy(ME)];
  alarm.tick();
  world.full = false;
  alarm.tick();
  await flush();
  assert.deepEqual(world.proposed, []);

  const other = harness();
  other.alarm.tick();
  other.world.full = false;
  other.world.alarms = [raisedBy(ME)];
  other.world.overQuota = true;
  other.alarm.tick();
  await flush();
  assert.deepEqual(other.world.proposed, []);
  other.world.overQuota = false;
  other.alarm.tick();
  await flush();
  assert.equal(other.world.proposed.length, 1);
});
