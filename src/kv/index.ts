// The public surface of the KV state machine. Other folders import from here only.
export { decodeCommand, encodeCommand } from "./command.ts";
export {
  CommandDecodeError,
  ERROR_MESSAGES,
  KvError,
  LeaseNotFoundError,
  LeaseNotPrimaryError,
} from "./errors.ts";
export type { LeaseTimeToLive } from "./lessor.ts";
export { Lessor } from "./lessor.ts";
export type { MvccStoreOptions } from "./mvcc_store.ts";
export { MvccStore } from "./mvcc_store.ts";
export type * from "./types.ts";
export type { WatchBatch, WatchRequest, WatchSink } from "./watch_hub.ts";
export { Watcher, WatchHub } from "./watch_hub.ts";
