// The virtual clock: a discrete-event scheduler. Events run in (time, sequence) order, so two
// events at the same microsecond run in the order they were scheduled — ties are deterministic.

/** One pending event. `sequence` breaks ties between events due at the same time. */
interface ScheduledEvent {
  readonly timeUs: number;
  readonly sequence: number;
  readonly action: () => void;
}

export class SchedulerLimitError extends Error {
  override readonly name = "SchedulerLimitError";
}

/**
 * A binary min-heap of events keyed by (timeUs, sequence). Actions are closures: whoever
 * schedules one captures what it needs (and checks on running that it still applies).
 */
export class Scheduler {
  private readonly heap: ScheduledEvent[] = [];
  private nextSequence = 0;
  private currentTimeUs = 0;
  private executedEvents = 0;

  /** @param maxPendingEvents bound on the queue: a runaway feedback loop fails loudly. */
  constructor(private readonly maxPendingEvents = 1_000_000) {}

  get nowUs(): number {
    return this.currentTimeUs;
  }

  get pendingEvents(): number {
    return this.heap.length;
  }

  get eventsRun(): number {
    return this.executedEvents;
  }

  /** Runs `action` `delayUs` from now (delays are whole microseconds, never negative). */
  after(delayUs: number, action: () => void): void {
    this.at(this.currentTimeUs + Math.max(0, Math.round(delayUs)), action);
  }

  at(timeUs: number, action: () => void): void {
    if (this.heap.length >= this.maxPendingEvents) {
      throw new SchedulerLimitError(`more than ${this.maxPendingEvents} pending events`);
    }
    const event = {
      timeUs: Math.max(timeUs, this.currentTimeUs),
      sequence: this.nextSequence++,
      action,
    };
    this.heap.push(event);
    this.siftUp(this.heap.length - 1);
  }

  /** Runs events due at or before `untilUs`; returns false when `stop` asked to end early. */
  runUntil(untilUs: number, stop: () => boolean = () => false): boolean {
    while (this.heap.length > 0 && this.heap[0]!.timeUs <= untilUs) {
      const event = this.pop();
      this.currentTimeUs = event.timeUs;
      this.executedEvents++;
      event.action();
      if (stop()) return false;
    }
    this.currentTimeUs = Math.max(this.currentTimeUs, untilUs);
    return true;
  }

  private pop(): ScheduledEvent {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const event = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!before(event, parent)) break;
      heap[index] = parent;
      index = parentIndex;
    }
    heap[index] = event;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    const event = heap[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, event)) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = event;
  }
}

function before(a: ScheduledEvent, b: ScheduledEvent): boolean {
  return a.timeUs < b.timeUs || (a.timeUs === b.timeUs && a.sequence < b.sequence);
}
