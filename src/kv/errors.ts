import type { KvErrorCode, KvErrorInfo } from "./types.ts";

/** etcd's wording, so clients that match on messages keep working. */
export const ERROR_MESSAGES: Record<KvErrorCode, string> = {
  KeyNotFound: "etcdserver: key not found",
  LeaseNotFound: "lease not found",
  LeaseExists: "lease already exists",
  Compacted: "mvcc: required revision has been compacted",
  FutureRevision: "mvcc: required revision is a future revision",
  InvalidArgument: "etcdserver: invalid argument",
  Auth: "etcdserver: invalid auth management",
  NoSpace: "mvcc: database space exceeded",
  ContractRejected: "qmesh: a contract rule rejected the write",
};

/** A request error (etcd returns these to the client; they never stop apply). */
export class KvError extends Error {
  constructor(
    readonly code: KvErrorCode,
    message: string = ERROR_MESSAGES[code],
  ) {
    super(message);
    this.name = "KvError";
  }

  toInfo(): KvErrorInfo {
    return { code: this.code, message: this.message };
  }
}

export class CommandDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandDecodeError";
  }
}

export class LeaseNotFoundError extends Error {
  constructor(readonly id: number) {
    super(`lease not found: ${id}`);
    this.name = "LeaseNotFoundError";
  }
}

/** Expiry decisions are the leader's alone. */
export class LeaseNotPrimaryError extends Error {
  constructor() {
    super("lessor is not primary (not the leader)");
    this.name = "LeaseNotPrimaryError";
  }
}
