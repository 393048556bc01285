// etcd's NOSPACE alarm for a member whose disk is full, raised and cleared by that member.
//
// Its Ready loop is stuck on the write that failed, so anything it proposes the usual way stays
// in its core. It writes straight to the transport instead, two messages that depend on nothing
// it has persisted: a forwarded proposal (what a follower's core sends for any proposal: no term,
// the leader appends it as its own) asking the leader to activate the alarm, and, while it still
// leads, TimeoutNow to its most caught-up voter, which then wins an election at once, so the
// cluster does not wait out an election timeout for a leader that cannot write.
//
// Once the disk has room again and the member has applied its log, it deactivates the alarm
// if it raised it: not one that was there before the disk filled (a --quota-backend-bytes alarm,
// which stays until an operator disarms it, as in etcd), nor while the store is over quota.
import { type AlarmMember, type Command, NOSPACE } from "../kv/index.ts";
import {
  EntryType,
  type Message,
  MessageType,
  message,
  type NodeId,
  type RaftStatus,
} from "../raft/index.ts";

export interface DiskAlarmDeps {
  readonly id: NodeId;
  /** A write of this member is waiting for space. */
  full(): boolean;
  /** The core's own view (the last Ready's may be long stale). */
  raftStatus(): RaftStatus;
  /** Onto the wire now, not through a Ready. */
  send(message: Message): void;
  /** The core's TimeoutNow for `to` (it voids the lease, as one sent through a Ready would). */
  timeoutNow(to: NodeId): Message;
  /** The log entry of a kv command proposed by this member. */
  entry(command: Command): Uint8Array;
  /** The alarms this member has applied. */
  alarms(): readonly AlarmMember[];
  overQuota(): boolean;
  /** Proposes the deactivation the usual way (the disk has room again). */
  deactivate(command: Command): Promise<unknown>;
  now(): number;
  info(message: string): void;
  warn(message: string): void;
}

export interface DiskAlarmTiming {
  /** How often the alarm is asked for again while the disk stays full. */
  readonly resendMs: number;
  /** How long a hand-off may take before another is tried (an election timeout). */
  readonly handOffMs: number;
  /**
   * After the disk recovered, how long an activation sent while it was full may still be
   * applied: an alarm that shows up then is this member's too, and is cleared again.
   */
  readonly graceMs: number;
}

export class DiskAlarm {
  private episode = false;
  /** The alarm was there when the disk filled: not ours to clear. */
  private foundRaised = false;
  /** Activation asked for and not yet known cleared for good. */
  private raised = false;
  private askedAt = Number.NEGATIVE_INFINITY;
  private askedLeader: NodeId = 0;
  private handedOffAt = Number.NEGATIVE_INFINITY;
  private clearing = false;

  constructor(
    private readonly deps: DiskAlarmDeps,
    private readonly timing: DiskAlarmTiming,
  ) {}

  /** Called on a timer, and at once when the disk fills. */
  tick(): void {
    if (this.deps.full()) this.whileFull();
    else this.afterFull();
  }

  private command(action: "activate" | "deactivate"): Command {
    return { op: "alarm", action, memberId: this.deps.id, alarm: NOSPACE };
  }

  private ownAlarm(): boolean {
    return this.deps.alarms().some((a) => a.memberId === this.deps.id && a.alarm === NOSPACE);
  }

  private whileFull(): void {
    if (!this.episode) {
      this.episode = true;
      // One we asked for in an earlier episode and have not cleared yet is still ours.
      this.foundRaised = this.ownAlarm() && !this.raised;
    }
    const status = this.deps.raftStatus();
    if (status.softState.role === "leader") {
      this.handOff(status);
      return;
    }
    const leader = status.softState.leader;
    if (leader === 0 || leader === this.deps.id) return;
    const now = this.deps.now();
    if (leader === this.askedLeader && now - this.askedAt < this.timing.resendMs) return;
    this.deps.send(
      message({
        type: MessageType.Propose,
        from: this.deps.id,
        to: leader,
        entries: [
          {
            term: 0,
            index: 0,
            type: EntryType.Normal,
            data: this.deps.entry(this.command("activate")),
          },
        ],
      }),
    );
    if (this.askedLeader === 0) this.deps.info("asked the leader to raise the NOSPACE alarm");
    this.raised = true;
    this.askedLeader = leader;
    this.askedAt = now;
  }

  private handOff(status: RaftStatus): void {
    const now = this.deps.now();
    if (now - this.handedOffAt < this.timing.handOffMs) return;
    let target: NodeId = 0;
    let best = -1;
    for (const [peer, progress] of status.progress) {
      if (peer === this.deps.id || !status.confState.voters.includes(peer)) continue;
      if (progress.match > best) {
        best = progress.match;
        target = peer;
      }
    }
    // A lone member has nobody to hand over to: its clients get NOSPACE until the disk has room.
    if (target === 0) return;
    this.handedOffAt = now;
    this.deps.send(this.deps.timeoutNow(target));
    this.deps.warn(`disk full: handing leadership to ${target.toString(16)}`);
  }

  private afterFull(): void {
    if (this.episode) {
      this.episode = false;
      this.askedLeader = 0;
      if (this.foundRaised) this.raised = false;
    }
    if (!this.raised) return;
    if (!this.ownAlarm()) {
      if (this.deps.now() - this.askedAt >= this.timing.graceMs) this.raised = false;
      return;
    }
    if (this.clearing || this.deps.overQuota()) return;
    this.clearing = true;
    this.deps
      .deactivate(this.command("deactivate"))
      .then(
        () => this.deps.info("disk has room again: NOSPACE alarm for this member cleared"),
        (error: Error) =>
          this.deps.warn(`clearing the NOSPACE alarm failed, will retry: ${error.message}`),
      )
      .finally(() => {
        this.clearing = false;
      });
  }
}
