// One member's disk. What a Ready hands out becomes durable only when its fsync completes; a
// crash throws away the write in flight. The durable image is itself a MemoryStorage, so a
// restarted member is rebuilt from exactly what survived.
import type { ConfState, Entry, HardState, Snapshot } from "../raft/index.ts";
import { MemoryStorage } from "../raft/index.ts";
import type { Scheduler } from "./scheduler.ts";

export interface WriteBatch {
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
}

export class Disk {
  private durable: MemoryStorage;
  /** Bumped by a crash: an fsync that completes afterwards belongs to a dead process. */
  private generation = 0;
  private writesInFlight = 0;

  constructor(
    private readonly scheduler: Scheduler,
    initial: MemoryStorage,
  ) {
    this.durable = copyStorage(initial);
  }

  get busy(): boolean {
    return this.writesInFlight > 0;
  }

  /** Writes `batch`; it is durable after `latencyUs`, then `onDurable` runs. */
  write(batch: WriteBatch, latencyUs: number, onDurable: () => void): void {
    const generation = this.generation;
    this.writesInFlight++;
    this.scheduler.after(latencyUs, () => {
      if (generation !== this.generation) return;
      this.writesInFlight--;
      writeBatch(this.durable, batch);
      onDurable();
    });
  }

  /** A write that needs no fsync (only the commit index moved): the OS may keep it or not. */
  writeUnsynced(batch: WriteBatch): void {
    writeBatch(this.durable, batch);
  }

  /**
   * The state machine's snapshot at `index`: written to its own file and renamed into place,
   * which we model as durable at once. The log before `compactIndex` is then dropped.
   */
  saveSnapshot(index: number, confState: ConfState, data: Uint8Array, compactIndex: number): void {
    if (index <= this.durable.snapshot().metadata.index) return;
    this.durable.createSnapshot(index, confState, data);
    compactTo(this.durable, compactIndex);
  }

  crash(): void {
    this.generation++;
    this.writesInFlight = 0;
  }

  /** A fresh storage holding only what is durable: what a restarted member reads. */
  recover(): MemoryStorage {
    return copyStorage(this.durable);
  }

  /** The term of the durable entry at `index`, or null if the disk does not hold it. */
  durableTerm(index: number): number | null {
    if (index > this.durable.lastIndex() || index < this.durable.firstIndex() - 1) return null;
    return this.durable.term(index);
  }

  durableHardState(): HardState {
    return this.durable.initialState().hardState;
  }

  durableSnapshot(): Snapshot {
    return this.durable.snapshot();
  }
}

function writeBatch(storage: MemoryStorage, batch: WriteBatch): void {
  if (batch.snapshot !== null) storage.applySnapshot(batch.snapshot);
  storage.append(batch.entries);
  if (batch.hardState !== null) storage.setHardState(batch.hardState);
}

/** Drops log entries before `compactIndex` if any are left there. */
export function compactTo(storage: MemoryStorage, compactIndex: number): void {
  const limit = Math.min(compactIndex, storage.snapshot().metadata.index);
  if (limit >= storage.firstIndex()) storage.compact(limit);
}

export function copyStorage(source: MemoryStorage): MemoryStorage {
  const snapshot = source.snapshot();
  // Empty, then filled: the constructor's bootstrap entries are already in `source` if any.
  const copy = new MemoryStorage();
  if (snapshot.metadata.index > 0) copy.applySnapshot(snapshot);
  const first = Math.max(source.firstIndex(), snapshot.metadata.index + 1);
  const last = source.lastIndex();
  if (last >= first) copy.append(source.entries(first, last + 1, Number.POSITIVE_INFINITY));
  copy.setHardState(source.initialState().hardState);
  return copy;
}
