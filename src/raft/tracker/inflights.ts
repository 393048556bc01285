// The leader's window of unacknowledged Append messages to one follower (etcd's Inflights).
// Bounding it by count and bytes keeps one slow follower from pinning unbounded memory.
import { invariant } from "../errors.ts";

export class Inflights {
  /** Ring buffers of each inflight message's last index and size. */
  private lastIndexes: number[] = [];
  private sizesBytes: number[] = [];
  private start = 0;
  private inflightCount = 0;
  private inflightBytes = 0;

  /** `maxBytes` 0 means no byte limit. */
  constructor(
    readonly maxMessages: number,
    readonly maxBytes: number,
  ) {
    invariant(maxMessages >= 1, () => `inflights need room for a message, got ${maxMessages}`);
  }

  /** Records a sent Append whose last entry is `lastIndex`; the caller checked `full()`. */
  add(lastIndex: number, bytes: number): void {
    invariant(!this.full(), () => `cannot add index ${lastIndex} to full inflights`);
    if (this.inflightCount > 0) {
      const newest = this.lastIndexes[this.slot(this.inflightCount - 1)]!;
      invariant(
        lastIndex > newest,
        () => `inflight index ${lastIndex} does not follow the newest one ${newest}`,
      );
    }
    // The buffers grow one slot at a time (most followers keep few messages in flight): until
    // they reach maxMessages the ring cannot wrap, so a new slot is always at their end.
    const slot = this.slot(this.inflightCount);
    this.lastIndexes[slot] = lastIndex;
    this.sizesBytes[slot] = bytes;
    this.inflightCount++;
    this.inflightBytes += bytes;
  }

  /** Frees every message the follower acknowledged: those whose last index is <= `index`. */
  freeLE(index: number): void {
    let freed = 0;
    let freedBytes = 0;
    let slot = this.start;
    while (freed < this.inflightCount && this.lastIndexes[slot]! <= index) {
      freedBytes += this.sizesBytes[slot]!;
      freed++;
      slot = slot + 1 === this.maxMessages ? 0 : slot + 1;
    }
    this.inflightCount -= freed;
    this.inflightBytes -= freedBytes;
    this.start = this.inflightCount === 0 ? 0 : slot;
  }

  full(): boolean {
    if (this.inflightCount === this.maxMessages) return true;
    return this.maxBytes !== 0 && this.inflightBytes >= this.maxBytes;
  }

  count(): number {
    return this.inflightCount;
  }

  bytes(): number {
    return this.inflightBytes;
  }

  reset(): void {
    this.start = 0;
    this.inflightCount = 0;
    this.inflightBytes = 0;
  }

  /** An independent copy (conf changes build new progress without touching the current one). */
  clone(): Inflights {
    const copy = new Inflights(this.maxMessages, this.maxBytes);
    copy.lastIndexes = this.lastIndexes.slice();
    copy.sizesBytes = this.sizesBytes.slice();
    copy.start = this.start;
    copy.inflightCount = this.inflightCount;
    copy.inflightBytes = this.inflightBytes;
    return copy;
  }

  private slot(offset: number): number {
    const slot = this.start + offset;
    return slot >= this.maxMessages ? slot - this.maxMessages : slot;
  }
}
