// The shape of the log the WAL describes: which indexes it holds and their terms, without the
// entries themselves. The writer and the reader run the same instance of this logic, so that
// a segment named after the writer's last index is checked against exactly what replay computes.

/**
 * Indexes (base, last] hold entries; `base` is the index just before the first one (a snapshot,
 * or the start of the oldest segment kept). Terms are stored as runs because they change rarely:
 * a few numbers per term, however long the log.
 */
export class LogShape {
  base = 0;
  /** The term at `base`, or -1 when unknown (the oldest segment kept starts mid-log). */
  baseTerm = 0;
  last = 0;
  private readonly runFirstIndex: number[] = [];
  private readonly runTerm: number[] = [];

  /** Start from a log whose entries before `firstIndex` are gone (segments already released). */
  resetTo(firstIndex: number): void {
    this.base = firstIndex - 1;
    this.baseTerm = firstIndex === 1 ? 0 : -1;
    this.last = this.base;
    this.runFirstIndex.length = 0;
    this.runTerm.length = 0;
  }

  termAt(index: number): number {
    if (index === this.base) return this.baseTerm;
    if (index < this.base || index > this.last) return -1;
    let low = 0;
    let high = this.runFirstIndex.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.runFirstIndex[middle]! <= index) low = middle;
      else high = middle - 1;
    }
    return this.runTerm[low]!;
  }

  /**
   * Raft's rule for a snapshot: if the log holds the snapshot's last entry (same index and
   * term), what follows it stays; otherwise the whole log is replaced by the snapshot. A marker
   * older than `base` (the header of the oldest kept segment) changes nothing.
   */
  applySnapshot(index: number, term: number): void {
    if (index < this.base) return;
    const matches = this.termAt(index) === term || (index === this.base && this.baseTerm === -1);
    if (matches) {
      this.dropThrough(index);
    } else {
      this.runFirstIndex.length = 0;
      this.runTerm.length = 0;
      this.last = index;
    }
    this.base = index;
    this.baseTerm = term;
  }

  /**
   * Truncate from `firstIndex`, then append: the conflicting suffix is replaced, as etcd's WAL
   * replays. Entries at or below `base` are already covered and are skipped by the caller.
   */
  truncateFrom(firstIndex: number): void {
    this.truncateAfter(Math.max(firstIndex - 1, this.base));
  }

  /** Entries must be pushed in ascending order right after `last`. */
  push(index: number, term: number): void {
    const runs = this.runTerm.length;
    if (runs === 0 || this.runTerm[runs - 1] !== term) {
      this.runFirstIndex.push(index);
      this.runTerm.push(term);
    }
    this.last = index;
  }

  private truncateAfter(keep: number): void {
    while (
      this.runFirstIndex.length > 0 &&
      this.runFirstIndex[this.runFirstIndex.length - 1]! > keep
    ) {
      this.runFirstIndex.pop();
      this.runTerm.pop();
    }
    this.last = Math.min(this.last, keep);
  }

  private dropThrough(index: number): void {
    let drop = 0;
    while (drop + 1 < this.runFirstIndex.length && this.runFirstIndex[drop + 1]! <= index + 1)
      drop++;
    this.runFirstIndex.splice(0, drop);
    this.runTerm.splice(0, drop);
    if (this.runFirstIndex.length > 0 && this.runFirstIndex[0]! <= index)
      this.runFirstIndex[0] = index + 1;
    if (this.last <= index) {
      this.runFirstIndex.length = 0;
      this.runTerm.length = 0;
    }
  }
}
