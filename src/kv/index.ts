// The public surface of the KV state machine. Other folders import from here only.
export { CORRUPT, consumesSpace, NOSPACE } from "./alarms.ts";
export { isAuthCommand } from "./auth_command.ts";
export {
  DEFAULT_SCRYPT_COST,
  hashPassword,
  type ScryptCost,
  verifyPassword,
} from "./auth_password.ts";
export { AuthReader, type AuthRole, type AuthUser, ROOT } from "./auth_store.ts";
export { EMPTY as EMPTY_BYTES, prefixEnd } from "./bytes.ts";
export { decodeCommand, encodeCommand } from "./command.ts";
export { CONTRACTS_PREFIX, CONTRACTS_PREFIX_TEXT, contractKey } from "./contract_rules.ts";
export {
  CommandDecodeError,
  ERROR_MESSAGES,
  KvError,
  LeaseNotFoundError,
  LeaseNotPrimaryError,
} from "./errors.ts";
export { type HistoryHash, HistoryHashError } from "./history_hash.ts";
export { checkCommandKeys, checkRangeKeys, MAX_KEY_BYTES } from "./key_limits.ts";
export type { LeaseTimeToLive } from "./lessor.ts";
export { Lessor } from "./lessor.ts";
export type { MvccStoreOptions } from "./mvcc_store.ts";
export { MvccStore } from "./mvcc_store.ts";
export type * from "./types.ts";
export type { WatchBatch, WatchRequest, WatchSink } from "./watch_hub.ts";
export { Watcher, WatchHub } from "./watch_hub.ts";
