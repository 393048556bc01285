// The public surface of storage. Other folders import from here only.

export { crc32c } from "./crc32c.ts";
export { freeBytes, isDiskFull } from "./disk_space.ts";
export {
  DiskFullError,
  SnapshotChecksumError,
  WalCorruptError,
  WalError,
  WalHardStateError,
  WalMissingSegmentError,
} from "./errors.ts";
export { writeFileDurably } from "./fs_sync.ts";
export type { StorageLogger } from "./logger.ts";
export type { SnapshotFile, SnapshotReceiver } from "./snapshot_files.ts";
export { readChunks, SnapshotFiles } from "./snapshot_files.ts";
export type { WalOptions, WalRecovery } from "./wal.ts";
export { DEFAULT_SEGMENT_BYTES, Wal } from "./wal.ts";
export { replayWal } from "./wal_recovery.ts";
