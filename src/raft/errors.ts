// Typed errors of the Raft core. Callers branch on the class, never on the text.

/** The requested index is older than the first entry still kept (compacted into a snapshot). */
export class LogCompactedError extends Error {
  override readonly name = "LogCompactedError";
  constructor(readonly requestedIndex: number) {
    super(`raft: log index ${requestedIndex} was compacted into a snapshot`);
  }
}

/** The requested index is past the last entry in storage. */
export class LogUnavailableError extends Error {
  override readonly name = "LogUnavailableError";
  constructor(readonly requestedIndex: number) {
    super(`raft: log index ${requestedIndex} is not available`);
  }
}

/** A snapshot is being prepared; the leader retries later. */
export class SnapshotTemporarilyUnavailableError extends Error {
  override readonly name = "SnapshotTemporarilyUnavailableError";
  constructor() {
    super("raft: snapshot is temporarily unavailable");
  }
}

/** A snapshot older than the one storage already has. */
export class SnapshotOutOfDateError extends Error {
  override readonly name = "SnapshotOutOfDateError";
  constructor(
    readonly snapshotIndex: number,
    readonly currentIndex: number,
  ) {
    super(
      `raft: snapshot at index ${snapshotIndex} is older than the current one at ${currentIndex}`,
    );
  }
}

/** A proposal was refused: no leader known, a transfer in progress, or a limit reached. */
export class ProposalDroppedError extends Error {
  override readonly name = "ProposalDroppedError";
  constructor(readonly reason: string) {
    super(`raft: proposal dropped: ${reason}`);
  }
}

/** Something that can only be a bug (ours or the caller's) — the member must stop. */
export class RaftInvariantError extends Error {
  override readonly name = "RaftInvariantError";
}

export function invariant(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new RaftInvariantError(`raft invariant violated: ${message()}`);
}
