import { encodeConfChange } from "./confchange/index.ts";
import {
  invariant,
  LogCompactedError,
  LogUnavailableError,
  SnapshotOutOfDateError,
} from "./errors.ts";
import {
  BOOTSTRAP_TERM,
  type ConfChangeSingle,
  ConfChangeType,
  type ConfState,
  EMPTY_CONF_STATE,
  EMPTY_HARD_STATE,
  type Entry,
  EntryType,
  type HardState,
  NONE,
  type NodeId,
  type Snapshot,
} from "./types.ts";
import { EMPTY_BYTES, limitEntriesBySize } from "./util.ts";

/**
 * The read side of the durable log that the caller keeps for the core (etcd's raft.Storage).
 * The core never writes through it: the caller writes what `Ready` hands out, then the core
 * reads it back here. Errors are thrown as LogCompactedError / LogUnavailableError /
 * SnapshotTemporarilyUnavailableError.
 */
export interface LogStorage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [low, high), at least one if any, then as many as fit in maxBytes. */
  entries(low: number, high: number, maxBytes: number): Entry[];
  /** The term of the entry at `index`; firstIndex()-1 is answered from the snapshot. */
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

/**
 * A LogStorage held in memory, also the write side for callers that keep their log in memory
 * and make it durable elsewhere (the WAL). `entries[0]` is a dummy standing for the snapshot:
 * its index and term are the snapshot's.
 */
export class MemoryStorage implements LogStorage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private currentSnapshot: Snapshot = {
    metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE },
    data: EMPTY_BYTES,
  };
  private log: Entry[] = [dummyEntry(0, 0)];

  /**
   * A member of a new cluster passes the cluster's initial membership; a member that joins an
   * existing cluster passes nothing. As etcd's Bootstrap does, the initial membership is written
   * as the first log entries (term 1, committed), so that members joining later learn it from
   * the log like any other conf change.
   */
  constructor(initialMembers?: { voters: readonly NodeId[]; learners?: readonly NodeId[] }) {
    if (initialMembers === undefined) return;
    const changes: ConfChangeSingle[] = [
      ...initialMembers.voters.map((nodeId) => ({ type: ConfChangeType.AddNode, nodeId })),
      ...(initialMembers.learners ?? []).map((nodeId) => ({
        type: ConfChangeType.AddLearnerNode,
        nodeId,
      })),
    ];
    changes.forEach((change, i) => {
      const data = encodeConfChange({
        transition: 0,
        changes: [change],
        context: EMPTY_BYTES,
      });
      this.log.push({ term: BOOTSTRAP_TERM, index: i + 1, type: EntryType.ConfChange, data });
    });
    this.hardState = { term: BOOTSTRAP_TERM, vote: NONE, commit: changes.length };
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.currentSnapshot.metadata.confState };
  }

  setHardState(hardState: HardState): void {
    this.hardState = hardState;
  }

  entries(low: number, high: number, maxBytes: number): Entry[] {
    const offset = this.offset();
    if (low <= offset) throw new LogCompactedError(low);
    if (high > this.lastIndex() + 1) throw new LogUnavailableError(high - 1);
    if (this.log.length === 1) throw new LogUnavailableError(low);
    return limitEntriesBySize(this.log.slice(low - offset, high - offset), maxBytes);
  }

  term(index: number): number {
    const offset = this.offset();
    if (index < offset) throw new LogCompactedError(index);
    if (index - offset >= this.log.length) throw new LogUnavailableError(index);
    return this.log[index - offset]!.term;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.log.length - 1;
  }

  snapshot(): Snapshot {
    return this.currentSnapshot;
  }

  /** Replaces everything with the snapshot (a follower installing the leader's snapshot). */
  applySnapshot(snapshot: Snapshot): void {
    const current = this.currentSnapshot.metadata.index;
    if (snapshot.metadata.index <= current) {
      throw new SnapshotOutOfDateError(snapshot.metadata.index, current);
    }
    this.currentSnapshot = snapshot;
    this.log = [dummyEntry(snapshot.metadata.index, snapshot.metadata.term)];
  }

  /**
   * Records a snapshot of the state machine as of `index` (which must be applied), so that
   * the log before it can be compacted and lagging followers sent the snapshot instead.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    const current = this.currentSnapshot.metadata.index;
    if (index <= current) throw new SnapshotOutOfDateError(index, current);
    invariant(
      index <= this.lastIndex(),
      () => `snapshot ${index} past last index ${this.lastIndex()}`,
    );
    const term = this.term(index);
    this.currentSnapshot = { metadata: { index, term, confState }, data };
    return this.currentSnapshot;
  }

  /** Drops entries before `compactIndex`; that entry becomes the new dummy. */
  compact(compactIndex: number): void {
    const offset = this.offset();
    if (compactIndex <= offset) throw new LogCompactedError(compactIndex);
    invariant(compactIndex <= this.lastIndex(), () => `compact ${compactIndex} past last index`);
    const kept = this.log.slice(compactIndex - offset);
    const first = kept[0]!;
    kept[0] = dummyEntry(first.index, first.term);
    this.log = kept;
  }

  /** Appends entries, replacing any conflicting suffix (entries must be contiguous). */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return; // all already compacted
    const toAppend = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const start = toAppend[0]!.index - this.offset();
    invariant(
      start <= this.log.length,
      () => `missing log entries: last ${this.lastIndex()}, appending ${toAppend[0]!.index}`,
    );
    if (start < this.log.length) this.log.length = start;
    for (const entry of toAppend) this.log.push(entry);
  }

  private offset(): number {
    return this.log[0]!.index;
  }
}

function dummyEntry(index: number, term: number): Entry {
  return { index, term, type: EntryType.Normal, data: EMPTY_BYTES };
}
