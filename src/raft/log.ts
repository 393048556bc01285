import { invariant, LogCompactedError, LogUnavailableError } from "./errors.ts";
import { UnstableLog } from "./log_unstable.ts";
import type { LogStorage } from "./storage.ts";
import type { Entry, Snapshot } from "./types.ts";
import { ENTRY_OVERHEAD_BYTES, limitEntriesBySize } from "./util.ts";

/**
 * The member's view of the replicated log: what the caller has made durable (LogStorage)
 * followed by what it has not yet (UnstableLog), plus the commit and applied indexes.
 * Invariant: applied <= committed <= lastIndex().
 */
export class RaftLog {
  readonly storage: LogStorage;
  readonly unstable: UnstableLog;
  committed: number;
  applied: number;
  /** Committed entries up to here were handed out in a Ready that is not yet advanced. */
  applying = 0;

  constructor(storage: LogStorage, committed: number, applied: number) {
    this.storage = storage;
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    this.unstable = new UnstableLog(lastIndex + 1);
    this.committed = Math.max(committed, firstIndex - 1);
    invariant(
      this.committed <= lastIndex,
      () => `commit ${committed} is past the last index ${lastIndex}`,
    );
    this.applied = Math.max(applied, firstIndex - 1);
    invariant(
      this.applied <= this.committed,
      () => `applied ${applied} is past commit ${this.committed}`,
    );
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** The term of the entry at `index`. Throws LogCompactedError / LogUnavailableError. */
  term(index: number): number {
    const unstableTerm = this.unstable.maybeTerm(index);
    if (unstableTerm !== undefined) return unstableTerm;
    const dummyIndex = this.firstIndex() - 1;
    if (index < dummyIndex) throw new LogCompactedError(index);
    if (index > this.lastIndex()) throw new LogUnavailableError(index);
    return this.storage.term(index);
  }

  /** The term at `index`, or 0 when it is compacted or beyond the log. */
  termOrZero(index: number): number {
    // Checked first: out-of-range lookups are routine (a pipelining leader runs ahead) and
    // building an Error for each is measurable.
    if (index > this.lastIndex() || index < this.firstIndex() - 1) return 0;
    try {
      return this.term(index);
    } catch (error) {
      if (error instanceof LogCompactedError || error instanceof LogUnavailableError) return 0;
      throw error;
    }
  }

  /** Whether our log holds `index` (or it is our snapshot's) with exactly `term`. */
  matchTerm(index: number, term: number): boolean {
    if (index > this.lastIndex() || index < this.firstIndex() - 1) return false;
    return this.termOrZero(index) === term;
  }

  /** Raft §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * A leader's Append: if our entry at prevIndex has prevTerm, append (dropping any conflicting
   * suffix), advance commit to min(leaderCommit, last new index), and return the last new
   * index. Otherwise return undefined (the caller rejects with a hint).
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    leaderCommit: number,
    entries: readonly Entry[],
  ): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNewIndex = prevIndex + entries.length;
    const conflictIndex = this.findConflict(entries);
    if (conflictIndex !== 0) {
      invariant(
        conflictIndex > this.committed,
        () => `entry ${conflictIndex} conflicts with committed entry (committed ${this.committed})`,
      );
      const skipped = conflictIndex - entries[0]!.index;
      this.append(skipped === 0 ? entries : entries.slice(skipped));
    }
    this.commitTo(Math.min(leaderCommit, lastNewIndex));
    return lastNewIndex;
  }

  append(entries: readonly Entry[]): number {
    const first = entries[0];
    if (first === undefined) return this.lastIndex();
    invariant(
      first.index - 1 >= this.committed,
      () => `appending after ${first.index - 1} would overwrite committed ${this.committed}`,
    );
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  /**
   * The index of the first entry that is new or conflicts with ours (0 if all are present).
   * Entries must be contiguous.
   */
  findConflict(entries: readonly Entry[]): number {
    const lastIndex = this.lastIndex();
    for (const entry of entries) {
      if (entry.index > lastIndex) return entry.index;
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * Fast backtracking: the largest index <= `index` whose term is <= `term`, with that term.
   * Whole terms that cannot match are skipped in one round trip.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (;;) {
      let ourTerm: number;
      try {
        ourTerm = this.term(index);
      } catch (error) {
        if (error instanceof LogCompactedError || error instanceof LogUnavailableError) {
          return { index, term: 0 };
        }
        throw error;
      }
      if (ourTerm <= term || index === 0) return { index, term: ourTerm };
      index--;
    }
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  hasNextCommittedEntries(): boolean {
    if (this.unstable.snapshot !== null) return false;
    const low = Math.max(this.applied + 1, this.firstIndex());
    return this.committed + 1 > low;
  }

  /** Committed entries not yet applied, at most maxBytes (at least one). */
  nextCommittedEntries(maxBytes: number): Entry[] {
    if (!this.hasNextCommittedEntries()) return [];
    const low = Math.max(this.applied + 1, this.firstIndex());
    return this.slice(low, this.committed + 1, maxBytes);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    invariant(
      index <= this.lastIndex(),
      () => `commit ${index} is past the last index ${this.lastIndex()}`,
    );
    this.committed = index;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    invariant(
      index <= this.committed && index >= this.applied,
      () => `applied ${index} is outside [${this.applied}, ${this.committed}]`,
    );
    this.applied = index;
  }

  /** Commits up to `maxIndex` if that entry is of `term` (Raft §5.4.2). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.termOrZero(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }

  /** Entries from `index` to the end, at most maxBytes (at least one). */
  entriesFrom(index: number, maxBytes: number): Entry[] {
    const lastIndex = this.lastIndex();
    if (index > lastIndex) return [];
    return this.slice(index, lastIndex + 1, maxBytes);
  }

  /** Entries in [low, high), at most maxBytes but at least one. Throws if compacted. */
  slice(low: number, high: number, maxBytes: number): Entry[] {
    if (low === high) return [];
    if (low < this.firstIndex()) throw new LogCompactedError(low);
    invariant(
      high <= this.lastIndex() + 1,
      () => `slice [${low}, ${high}) past last index ${this.lastIndex()}`,
    );
    const unstableOffset = this.unstable.offset;
    let result: Entry[] = [];
    if (low < unstableOffset) {
      result = this.storage.entries(low, Math.min(high, unstableOffset), maxBytes);
      if (result.length < Math.min(high, unstableOffset) - low) return result;
    }
    if (high > unstableOffset) {
      const unstable = this.unstable.slice(Math.max(low, unstableOffset), high);
      if (result.length === 0) return limitEntriesBySize(unstable, maxBytes);
      return appendWithinLimit(result, unstable, maxBytes);
    }
    return result;
  }
}

function appendWithinLimit(head: Entry[], tail: readonly Entry[], maxBytes: number): Entry[] {
  let size = 0;
  for (const entry of head) size += entry.data.length + ENTRY_OVERHEAD_BYTES;
  for (const entry of tail) {
    size += entry.data.length + ENTRY_OVERHEAD_BYTES;
    if (size > maxBytes) break;
    head.push(entry);
  }
  return head;
}
