// Typed errors of the storage layer. Callers branch on the class, never on the text.

const RESTORE_ADVICE = "restore this member from a peer: remove its data directory and re-add it";

/** Every failure of the write-ahead log, including misuse by the caller (a bug). */
export class WalError extends Error {
  override readonly name: string = "WalError";
}

/** A record that fails its checksum or does not parse, where it cannot be a torn last write. */
export class WalCorruptError extends WalError {
  override readonly name = "WalCorruptError";
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`wal: corrupt record in ${file} at byte offset ${offset} (${reason}); ${RESTORE_ADVICE}`);
  }
}

/** A segment is missing: a gap in sequence numbers, or entries no segment or snapshot covers. */
export class WalMissingSegmentError extends WalError {
  override readonly name = "WalMissingSegmentError";
  constructor(
    readonly missing: string,
    readonly detail: string,
  ) {
    super(`wal: missing segment ${missing} (${detail}); ${RESTORE_ADVICE}`);
  }
}

/** The hard state claims a commit index past the end of the log. */
export class WalHardStateError extends WalError {
  override readonly name = "WalHardStateError";
  constructor(
    readonly commit: number,
    readonly lastIndex: number,
  ) {
    super(
      `wal: hard state commit ${commit} is past the last log index ${lastIndex}; ${RESTORE_ADVICE}`,
    );
  }
}

/**
 * A write failed because the disk (or the user's quota) is full. Nothing written before it is
 * lost and the failed write can be retried as it is once space is freed.
 */
export class DiskFullError extends Error {
  override readonly name = "DiskFullError";
  constructor(
    readonly path: string,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`no space left on the disk of ${path} (${detail})`, options);
  }
}

/** A received snapshot does not have the size or CRC32C its sender announced. */
export class SnapshotChecksumError extends Error {
  override readonly name = "SnapshotChecksumError";
  constructor(
    readonly expectedBytes: number,
    readonly actualBytes: number,
    readonly expectedChecksum: number,
    readonly actualChecksum: number,
  ) {
    super(
      `snapshot: expected ${expectedBytes} bytes with crc32c ${hex(expectedChecksum)}, ` +
        `received ${actualBytes} bytes with crc32c ${hex(actualChecksum)}`,
    );
  }
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}
