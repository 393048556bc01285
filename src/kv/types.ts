// The data model shared by the codec, the store, the lessor and the watch hub (etcd v3 shapes).

/** One key's state at one revision, as etcd's mvccpb.KeyValue. */
export interface KeyValue {
  key: Uint8Array;
  value: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: number;
}

export type SortOrder = "none" | "ascend" | "descend";
export type SortTarget = "key" | "version" | "create" | "mod" | "value";

/** rangeEnd: empty = the single key `key`; [0] = every key >= key; otherwise [key, rangeEnd). */
export interface RangeRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  /** 0 or absent = current revision. */
  revision?: number;
  /** 0 or absent = no limit. */
  limit?: number;
  sortOrder?: SortOrder;
  sortTarget?: SortTarget;
  countOnly?: boolean;
  keysOnly?: boolean;
  minModRevision?: number;
  maxModRevision?: number;
  minCreateRevision?: number;
  maxCreateRevision?: number;
}

export interface RangeResponse {
  kvs: KeyValue[];
  more: boolean;
  /** Keys in the range at the revision, before limit and before the min/max filters (as etcd). */
  count: number;
  revision: number;
}

export type CompareTarget = "value" | "version" | "create" | "mod" | "lease";
export type CompareResult = "equal" | "greater" | "less" | "not_equal";

export type Compare =
  | {
      target: "value";
      result: CompareResult;
      key: Uint8Array;
      rangeEnd: Uint8Array;
      value: Uint8Array;
    }
  | {
      target: "version" | "create" | "mod" | "lease";
      result: CompareResult;
      key: Uint8Array;
      rangeEnd: Uint8Array;
      number: number;
    };

export interface PutCommand {
  op: "put";
  key: Uint8Array;
  value: Uint8Array;
  /** 0 = no lease. Lease ids must be positive safe integers (< 2^53). */
  lease: number;
  prevKv: boolean;
  ignoreValue: boolean;
  ignoreLease: boolean;
  /**
   * The authenticated user who sent the command (absent or "": auth off), which contract rules
   * see. Only a top-level command's user is encoded: the ops of a txn act as the txn's user.
   */
  user?: string;
}

export interface DeleteRangeCommand {
  op: "deleteRange";
  key: Uint8Array;
  rangeEnd: Uint8Array;
  prevKv: boolean;
  /** As PutCommand.user. */
  user?: string;
}

export interface RangeOp extends RangeRequest {
  op: "range";
}

export interface TxnCommand {
  op: "txn";
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
  /** As PutCommand.user. */
  user?: string;
}

export type RequestOp = RangeOp | PutCommand | DeleteRangeCommand | TxnCommand;

export interface CompactCommand {
  op: "compact";
  revision: number;
}

export interface LeaseGrantCommand {
  op: "leaseGrant";
  /** Chosen by the proposer; a positive safe integer. */
  id: number;
  ttlSeconds: number;
}

export interface LeaseRevokeCommand {
  op: "leaseRevoke";
  id: number;
}

/** authpb.Permission.Type: READ = 0, WRITE = 1, READWRITE = 2. */
export type PermissionType = 0 | 1 | 2;

/** A key permission of a role; rangeEnd as in RangeRequest (empty = the key alone, [0] = key on). */
export interface Permission {
  type: PermissionType;
  key: Uint8Array;
  rangeEnd: Uint8Array;
}

/**
 * Auth changes (etcd's auth store). Passwords arrive hashed by the proposing member (slow hash,
 * see auth_password.ts), so apply stays fast and deterministic and the log never holds a password.
 */
export type AuthCommand =
  /** `secret` (32 random bytes, chosen by the proposer) signs the tokens of this enablement. */
  | { op: "authEnable"; secret: Uint8Array }
  | { op: "authDisable" }
  | { op: "userAdd"; user: string; passwordHash: Uint8Array; noPassword: boolean }
  | { op: "userDelete"; user: string }
  | { op: "userChangePassword"; user: string; passwordHash: Uint8Array }
  | { op: "userGrantRole"; user: string; role: string }
  | { op: "userRevokeRole"; user: string; role: string }
  | { op: "roleAdd"; role: string }
  | { op: "roleDelete"; role: string }
  | { op: "roleGrantPermission"; role: string; permission: Permission }
  | { op: "roleRevokePermission"; role: string; key: Uint8Array; rangeEnd: Uint8Array };

/** etcdserverpb.AlarmType: NOSPACE = 1, CORRUPT = 2 (NONE = 0 is never stored). */
export type AlarmType = 1 | 2;

/** An alarm raised by (or for) one member, as etcdserverpb.AlarmMember. */
export interface AlarmMember {
  memberId: number;
  alarm: AlarmType;
}

/** etcd's AlarmRequest ACTIVATE / DEACTIVATE, replicated so every member holds the same alarms. */
export interface AlarmCommand extends AlarmMember {
  op: "alarm";
  action: "activate" | "deactivate";
}

/** Sets (creates or replaces) the contract rule `name`; `rule` is its stored encoding. */
export interface ContractSetCommand {
  op: "contractSet";
  name: string;
  rule: Uint8Array;
}

export interface ContractDeleteCommand {
  op: "contractDelete";
  name: string;
}

export type Command =
  | ContractSetCommand
  | ContractDeleteCommand
  | PutCommand
  | DeleteRangeCommand
  | TxnCommand
  | CompactCommand
  | LeaseGrantCommand
  | LeaseRevokeCommand
  | AuthCommand
  | AlarmCommand;

export interface PutResponse {
  op: "put";
  prevKv?: KeyValue;
}

export interface DeleteRangeResponse {
  op: "deleteRange";
  deleted: number;
  prevKvs?: KeyValue[];
}

export interface RangeOpResponse extends RangeResponse {
  op: "range";
}

export interface TxnResponse {
  op: "txn";
  succeeded: boolean;
  responses: OpResponse[];
}

export type OpResponse = RangeOpResponse | PutResponse | DeleteRangeResponse | TxnResponse;

export type CommandResponse =
  | PutResponse
  | DeleteRangeResponse
  | TxnResponse
  | { op: "compact" }
  | { op: "leaseGrant"; id: number; ttl: number }
  | { op: "leaseRevoke" }
  | { op: AuthCommand["op"] }
  /** The alarms the command changed (none if it was already so), as etcd's AlarmResponse. */
  | { op: "alarm"; alarms: AlarmMember[] }
  | { op: "contractSet" }
  /** 1 if the rule existed, else 0. */
  | { op: "contractDelete"; deleted: number };

export type KvErrorCode =
  | "KeyNotFound"
  | "LeaseNotFound"
  | "LeaseExists"
  | "Compacted"
  | "FutureRevision"
  | "InvalidArgument"
  /** A space-consuming write while a NOSPACE alarm is active (etcd's ErrNoSpace). */
  | "NoSpace"
  /** An auth store refusal; the message is etcd's text (e.g. "etcdserver: role name not found"). */
  | "Auth"
  /** A contract rule rejected a write; the message names the rule and says why. */
  | "ContractRejected";

export interface KvErrorInfo {
  code: KvErrorCode;
  message: string;
}

/** `revision` is the store revision after the command (etcd's response header revision). */
export type ApplyResult =
  | { revision: number; response: CommandResponse }
  | { revision: number; error: KvErrorInfo };

/**
 * Work that must commit in the same LMDB transaction as an apply batch (node/ uses it for the
 * ledger). Called synchronously inside the transaction; a throw aborts the whole batch.
 */
export interface ApplyHook {
  /** Item `position` of the batch was applied (replayed items that were skipped are not). */
  applied(position: number, result: ApplyResult | null, revisionBefore: number): void;
  /** The last write of the transaction. */
  finish(): void;
  /** After the transaction: whether it committed. */
  done(committed: boolean): void;
}

/** command null = no-op (empty Raft entry, conf change); meta is stored in the same LMDB txn. */
export interface ApplyItem {
  index: number;
  command: Uint8Array | null;
  meta?: { key: string; value: Uint8Array };
}

export interface WatchEvent {
  type: "put" | "delete";
  kv: KeyValue;
  prevKv?: KeyValue;
}

/** One key change a contract rule is asked about (the rule's variables; see contracts/). */
export interface GuardedWrite {
  readonly key: Uint8Array;
  /** The value the write would store; null for a delete. */
  readonly value: Uint8Array | null;
  /** The key's current value; null if it does not exist. */
  readonly prev: Uint8Array | null;
  readonly lease: number;
  readonly user: string;
  /** The revision the write would create. */
  readonly revision: number;
  readonly op: "put" | "delete";
}

/** A stored contract rule: its name (from its key) and its encoding. */
export interface StoredRule {
  readonly name: string;
  readonly rule: Uint8Array;
}

/** The stored rules, ready to check writes; see WriteGuard. */
export interface WriteRules {
  /** null: allowed; else the client's error message, naming the rule and saying why. */
  check(write: GuardedWrite): string | null;
}

/**
 * Contract rules on writes, injected into MvccStore by node/ (kv does not know the rule language).
 * Must be deterministic: every member gives the same answers for the same arguments.
 */
export interface WriteGuard {
  /** null if `rule` is the encoding of a valid rule named `name`; else why it is not. */
  validateRule(name: string, rule: Uint8Array): string | null;
  /** The rules stored now, in key order (never empty). */
  load(rules: readonly StoredRule[]): WriteRules;
}
