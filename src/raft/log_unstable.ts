import { invariant } from "./errors.ts";
import type { Entry, Snapshot } from "./types.ts";

/**
 * The tail of the log that the caller has not yet made durable: entries (and possibly a
 * snapshot) handed out in a Ready but not yet acknowledged by advance(). Entries here may
 * still be replaced by a leader's conflicting entries.
 */
export class UnstableLog {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  /** Index of entries[0]; when there are no entries, the index the next one will have. */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** The first index, if there is an unstable snapshot (entries before it are gone). */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === null ? undefined : this.snapshot.metadata.index + 1;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot === null ? undefined : this.snapshot.metadata.index;
  }

  maybeTerm(index: number): number | undefined {
    if (index < this.offset) {
      if (this.snapshot !== null && this.snapshot.metadata.index === index) {
        return this.snapshot.metadata.term;
      }
      return undefined;
    }
    return this.entries[index - this.offset]?.term;
  }

  /** Entries up to (index, term) are durable. A term mismatch means they were replaced since. */
  stableTo(index: number, term: number): void {
    if (index < this.offset) return;
    const entry = this.entries[index - this.offset];
    if (entry === undefined || entry.term !== term) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }

  stableSnapshotTo(index: number): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === index) this.snapshot = null;
  }

  restore(snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
  }

  /** Appends entries, first dropping any existing suffix they conflict with. */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      for (const entry of entries) this.entries.push(entry);
    } else if (after <= this.offset) {
      // Replace everything: the new entries start at or before our first unstable entry.
      this.offset = after;
      this.entries = entries.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset);
      for (const entry of entries) this.entries.push(entry);
    }
  }

  /** Entries in [low, high); the range must lie within the unstable entries. */
  slice(low: number, high: number): Entry[] {
    invariant(
      this.offset <= low && low <= high && high <= this.offset + this.entries.length,
      () =>
        `unstable slice [${low}, ${high}) out of [${this.offset}, ${this.offset + this.entries.length})`,
    );
    return this.entries.slice(low - this.offset, high - this.offset);
  }
}
