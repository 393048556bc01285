// The leader's view of one follower's log and how to send it entries (etcd's Progress). The
// three states are a flow-control machine: probe (find where the logs diverge, one Append per
// round trip), replicate (stream optimistically within the inflight window) and snapshot (the
// follower needs entries that were compacted: wait for the snapshot to land).
import { RaftInvariantError } from "../errors.ts";
import { Inflights } from "./inflights.ts";

export type ProgressState = "probe" | "replicate" | "snapshot";

export interface ProgressInit {
  readonly match: number;
  readonly next: number;
  readonly maxInflightMessages: number;
  readonly maxInflightBytes: number;
  readonly isLearner: boolean;
  readonly recentActive: boolean;
}

const STATE_NAMES: Record<ProgressState, string> = {
  probe: "StateProbe",
  replicate: "StateReplicate",
  snapshot: "StateSnapshot",
};

export class Progress {
  /** The highest index known to be in the follower's log. */
  match: number;
  /** The index of the next entry to send. */
  next: number;
  state: ProgressState = "probe";
  /** The index of the snapshot being sent (state snapshot), else 0. */
  pendingSnapshot = 0;
  /** Heard from since the last CheckQuorum. */
  recentActive: boolean;
  /** probe: an Append was sent and awaits its answer; replicate: the inflight window is full. */
  msgAppFlowPaused = false;
  isLearner: boolean;
  readonly inflights: Inflights;

  /** `inflights` lets clone() carry the window over; new progress leaves it out. */
  constructor(init: ProgressInit, inflights?: Inflights) {
    this.match = init.match;
    this.next = init.next;
    this.isLearner = init.isLearner;
    this.recentActive = init.recentActive;
    this.inflights = inflights ?? new Inflights(init.maxInflightMessages, init.maxInflightBytes);
  }

  becomeProbe(): void {
    // Coming back from a snapshot, the follower has at least the snapshot (if it landed), so
    // probing can start right after it.
    const floorNext = this.state === "snapshot" ? this.pendingSnapshot + 1 : 0;
    this.resetState("probe");
    this.next = Math.max(this.match + 1, floorNext);
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState("snapshot");
    this.pendingSnapshot = snapshotIndex;
  }

  /** Accounts for an Append just sent with `entryCount` entries of `bytes` (UpdateOnEntriesSend). */
  sentEntries(entryCount: number, bytes: number): void {
    switch (this.state) {
      case "replicate":
        if (entryCount > 0) {
          // Optimistic: assume the follower will accept, and pipeline the next Append.
          this.next += entryCount;
          this.inflights.add(this.next - 1, bytes);
        }
        this.msgAppFlowPaused = this.inflights.full();
        return;
      case "probe":
        // One probe per round trip: the answer tells where to continue.
        if (entryCount > 0) this.msgAppFlowPaused = true;
        return;
      case "snapshot":
        throw new RaftInvariantError(`raft invariant violated: sending entries in ${this}`);
    }
  }

  /** A successful ack up to `index`. Returns whether `match` advanced. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      this.msgAppFlowPaused = false;
      updated = true;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * The follower rejected the Append whose previous index was `rejected`, hinting that its log
   * matches at most up to `matchHint`. Returns false if the rejection is stale (answers an
   * Append sent before something we have since learned).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      // Everything up to match is known to be accepted; a rejection at or below it is old.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // Outside replicate only one Append is outstanding, sent at next - 1: anything else is old.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  isPaused(): boolean {
    if (this.state === "snapshot") return true;
    return this.msgAppFlowPaused;
  }

  /** An independent copy, for conf changes that must not touch the current progress. */
  clone(): Progress {
    const copy = new Progress(
      {
        match: this.match,
        next: this.next,
        maxInflightMessages: this.inflights.maxMessages,
        maxInflightBytes: this.inflights.maxBytes,
        isLearner: this.isLearner,
        recentActive: this.recentActive,
      },
      this.inflights.clone(),
    );
    copy.state = this.state;
    copy.pendingSnapshot = this.pendingSnapshot;
    copy.msgAppFlowPaused = this.msgAppFlowPaused;
    return copy;
  }

  toString(): string {
    let text = `${STATE_NAMES[this.state]} match=${this.match} next=${this.next}`;
    if (this.isLearner) text += " learner";
    if (this.isPaused()) text += " paused";
    if (this.pendingSnapshot > 0) text += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) text += " inactive";
    const inflightCount = this.inflights.count();
    if (inflightCount > 0) {
      text += ` inflight=${inflightCount}`;
      if (this.inflights.full()) text += "[full]";
    }
    return text;
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }
}
