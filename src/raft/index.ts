// The public surface of the Raft core. Other folders import from here only.

export {
  ConfChangeError,
  decodeConfChange,
  encodeConfChange,
} from "./confchange/index.ts";
export type { RaftConfig, TestingKnobs } from "./config.ts";
export { RAFT_DEFAULTS, RaftConfigError } from "./config.ts";
export {
  LogCompactedError,
  LogUnavailableError,
  ProposalDroppedError,
  RaftInvariantError,
  SnapshotOutOfDateError,
  SnapshotTemporarilyUnavailableError,
} from "./errors.ts";
export { message } from "./raft.ts";
export { SeededRandom } from "./random.ts";
export type { ProgressStatus, RaftStatus } from "./rawnode.ts";
export { RawNode } from "./rawnode.ts";
export type { LogStorage } from "./storage.ts";
export { MemoryStorage } from "./storage.ts";
export * from "./types.ts";
