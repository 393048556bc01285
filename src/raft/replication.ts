import {
  LogCompactedError,
  LogUnavailableError,
  SnapshotTemporarilyUnavailableError,
} from "./errors.ts";
import type { Raft } from "./raft.ts";
import { type Entry, MessageType, type NodeId } from "./types.ts";
import { entriesBytes } from "./util.ts";

/** Leader: send `to` the entries it lacks, or a snapshot if they were compacted away. */
export function maybeSendAppend(raft: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
  const progress = raft.tracker.progress.get(to);
  if (progress === undefined || progress.isPaused()) return false;
  const previousIndex = progress.next - 1;
  let previousTerm: number;
  let entries: Entry[] = [];
  try {
    previousTerm = raft.log.term(previousIndex);
    // A full window sends no entries, only an empty Append: if the in-flight ones were lost,
    // its answer (ack or reject) is what frees the window, so replication cannot stall.
    if (progress.state !== "replicate" || !progress.inflights.full()) {
      entries = raft.log.entriesFrom(progress.next, raft.config.maxMessageBytes);
    }
  } catch (error) {
    if (error instanceof LogCompactedError || error instanceof LogUnavailableError) {
      return sendSnapshot(raft, to);
    }
    throw error;
  }
  if (entries.length === 0 && !sendIfEmpty) return false;
  raft.send({
    type: MessageType.Append,
    to,
    index: previousIndex,
    logTerm: previousTerm,
    entries,
    commit: raft.log.committed,
  });
  progress.sentEntries(entries.length, entries.length === 0 ? 0 : entriesBytes(entries));
  return true;
}

function sendSnapshot(raft: Raft, to: NodeId): boolean {
  const progress = raft.tracker.progress.get(to)!;
  // A member we have not heard from lately may be down: a snapshot to it would be wasted.
  if (!progress.recentActive) return false;
  let snapshot: ReturnType<Raft["log"]["snapshot"]>;
  try {
    snapshot = raft.log.snapshot();
  } catch (error) {
    if (error instanceof SnapshotTemporarilyUnavailableError) return false;
    throw error;
  }
  if (snapshot.metadata.index === 0) return false;
  raft.send({ type: MessageType.InstallSnapshot, to, snapshot });
  progress.becomeSnapshot(snapshot.metadata.index);
  raft.snapshotSentTick.set(to, raft.tickCount);
  return true;
}

/** Leader: replicate to every other member (new entries, or just the commit index). */
export function broadcastAppend(raft: Raft): void {
  raft.tracker.visit((id) => {
    if (id !== raft.id) maybeSendAppend(raft, id, true);
  });
}

/**
 * Leader: heartbeat every other member. `requestId` ties the round to pending ReadIndex
 * requests; `index` carries our tick so that acknowledgements date the lease.
 */
export function broadcastHeartbeat(raft: Raft, requestId: Uint8Array | null): void {
  const context = requestId ?? raft.readOnly.lastRequestId();
  raft.tracker.visit((id, progress) => {
    if (id === raft.id) return;
    raft.send({
      type: MessageType.Heartbeat,
      to: id,
      // Never tell a follower to commit past what it is known to have.
      commit: Math.min(progress.match, raft.log.committed),
      index: raft.tickCount,
      ...(context === null ? {} : { context }),
    });
  });
}

export function sendTimeoutNow(raft: Raft, to: NodeId): void {
  raft.timeoutNowSentThisTerm = true;
  raft.send({ type: MessageType.TimeoutNow, to });
}
