// Executes decoded commands inside the batch's LMDB write txn (etcd's applier + mvcc txn write).
// Request errors are KvErrors: thrown before any write (or inside a child txn for `txn`), turned
// into an error result, so a failing command never changes state. Contract rules check each
// key a put or delete changes just before it changes it; a rejection is a KvError like any other.

import { applyAlarm, consumesSpace, hasNoSpaceAlarm, readAlarms } from "./alarms.ts";
import { isAuthCommand } from "./auth_command.ts";
import { applyAuth } from "./auth_store.ts";
import { compareBytes, u64Bytes } from "./bytes.ts";
import { decodeCommand } from "./command.ts";
import { compactHistory } from "./compact.ts";
import {
  BatchRules,
  contractKey,
  isContractKey,
  type LoadedRules,
  reservedKeyError,
} from "./contract_rules.ts";
import { CommandDecodeError, KvError } from "./errors.ts";
import { checkCommandKeys } from "./key_limits.ts";
import { type Dbs, decodeRecord, leaseKeys } from "./layout.ts";
import { currentKvs, readRange } from "./range.ts";
import type {
  AlarmMember,
  ApplyResult,
  Command,
  CommandResponse,
  Compare,
  ContractDeleteCommand,
  ContractSetCommand,
  DeleteRangeCommand,
  DeleteRangeResponse,
  KeyValue,
  OpResponse,
  PutCommand,
  PutResponse,
  RequestOp,
  TxnCommand,
  TxnResponse,
  WatchEvent,
  WriteGuard,
} from "./types.ts";
import { WriteTxn } from "./write_txn.ts";

export interface EventBatch {
  revision: number;
  events: WatchEvent[];
}

export class Executor {
  readonly batches: EventBatch[] = [];
  readonly granted: Array<{ id: number; ttl: number }> = [];
  readonly revoked: number[] = [];
  readonly rules: BatchRules;

  constructor(
    private readonly dbs: Dbs,
    public revision: number,
    public compactRevision: number,
    /** The active alarms; commands of this batch see the alarms its earlier commands changed. */
    public alarms: readonly AlarmMember[] = readAlarms(dbs),
    /** Contract rules on writes; none: writes are not checked and rules cannot be set. */
    guard?: WriteGuard,
    /** The rules as the last committed batch left them (see BatchRules). */
    rules?: LoadedRules,
  ) {
    this.rules = new BatchRules(dbs, guard, rules);
  }

  execute(bytes: Uint8Array): ApplyResult {
    let cmd: Command;
    try {
      cmd = decodeCommand(bytes);
    } catch (e) {
      if (!(e instanceof CommandDecodeError)) throw e;
      return { revision: this.revision, error: { code: "InvalidArgument", message: e.message } };
    }
    // etcd's capped applier: refused on every member alike, since the alarm is in the log too.
    if (consumesSpace(cmd) && hasNoSpaceAlarm(this.alarms)) {
      return { revision: this.revision, error: new KvError("NoSpace").toInfo() };
    }
    const t = new WriteTxn(this.dbs, this.revision + 1);
    try {
      checkCommandKeys(cmd);
      const user =
        cmd.op === "put" || cmd.op === "deleteRange" || cmd.op === "txn" ? (cmd.user ?? "") : "";
      const response =
        cmd.op === "txn"
          ? // A child txn, so a request error halfway through a txn rolls back its earlier writes.
            this.dbs.env.transactionSync(() => this.txn(t, cmd, user))
          : this.run(t, cmd, user);
      if (t.changed) {
        this.revision = t.main;
        this.batches.push({ revision: t.main, events: t.events });
      }
      return { revision: this.revision, response };
    } catch (e) {
      if (e instanceof KvError) return { revision: this.revision, error: e.toInfo() };
      throw e;
    }
  }

  private run(t: WriteTxn, c: Exclude<Command, TxnCommand>, user: string): CommandResponse {
    // Auth changes touch only the auth database: no kv revision, no watch event (as etcd).
    if (isAuthCommand(c)) return applyAuth(this.dbs, c);
    switch (c.op) {
      case "alarm": {
        const { alarms, response } = applyAlarm(this.dbs, this.alarms, c);
        this.alarms = alarms;
        return response;
      }
      case "put":
        return this.put(t, c, user);
      case "deleteRange":
        return this.deleteRange(t, c, user);
      case "contractSet":
        return this.contractSet(t, c);
      case "contractDelete":
        return this.contractDelete(t, c);
      case "compact":
        if (c.revision <= this.compactRevision) throw new KvError("Compacted");
        if (c.revision > this.revision) throw new KvError("FutureRevision");
        compactHistory(this.dbs, c.revision);
        this.compactRevision = c.revision;
        return { op: "compact" };
      case "leaseGrant": {
        if (!Number.isSafeInteger(c.id) || c.id <= 0) {
          throw new KvError("InvalidArgument", "etcdserver: lease id must be a positive integer");
        }
        if (this.dbs.lease.doesExist(u64Bytes(c.id))) throw new KvError("LeaseExists");
        this.dbs.lease.putSync(u64Bytes(c.id), u64Bytes(c.ttlSeconds));
        this.granted.push({ id: c.id, ttl: c.ttlSeconds });
        return { op: "leaseGrant", id: c.id, ttl: c.ttlSeconds };
      }
      case "leaseRevoke": {
        if (!this.dbs.lease.doesExist(u64Bytes(c.id))) throw new KvError("LeaseNotFound");
        for (const key of leaseKeys(this.dbs, c.id)) {
          const rec = this.dbs.kv.get(key);
          if (rec !== undefined) t.delete(decodeRecord(rec).kv);
        }
        this.dbs.lease.removeSync(u64Bytes(c.id));
        this.revoked.push(c.id);
        return { op: "leaseRevoke" };
      }
    }
  }

  private put(t: WriteTxn, c: PutCommand, user: string): PutResponse {
    if (c.key.length === 0) throw new KvError("InvalidArgument", "etcdserver: key is not provided");
    if (isContractKey(c.key)) throw reservedKeyError(c.key);
    if (c.ignoreValue && c.value.length > 0) {
      throw new KvError("InvalidArgument", "etcdserver: value is provided");
    }
    if (c.ignoreLease && c.lease !== 0) {
      throw new KvError("InvalidArgument", "etcdserver: lease is provided");
    }
    const rec = this.dbs.kv.get(c.key);
    const prev = rec === undefined ? undefined : decodeRecord(rec).kv;
    if ((c.ignoreValue || c.ignoreLease) && prev === undefined) throw new KvError("KeyNotFound");
    const lease = c.ignoreLease ? prev!.lease : c.lease;
    if (lease !== 0 && !this.dbs.lease.doesExist(u64Bytes(lease))) {
      throw new KvError("LeaseNotFound");
    }
    const value = c.ignoreValue ? prev!.value : c.value;
    this.rules.check({
      key: c.key,
      value,
      prev: prev?.value ?? null,
      lease,
      user,
      revision: t.main,
      op: "put",
    });
    t.put(c.key, value, lease, prev);
    return c.prevKv && prev !== undefined ? { op: "put", prevKv: prev } : { op: "put" };
  }

  private deleteRange(t: WriteTxn, c: DeleteRangeCommand, user: string): DeleteRangeResponse {
    if (c.key.length === 0 && c.rangeEnd.length === 0) {
      throw new KvError("InvalidArgument", "etcdserver: key is not provided");
    }
    const kvs = currentKvs(this.dbs, c.key, c.rangeEnd);
    // Every key is checked before any is deleted: a rejection leaves the range as it was.
    for (const kv of kvs) {
      if (isContractKey(kv.key)) throw reservedKeyError(kv.key);
      const { key, value: prev } = kv;
      this.rules.check({ key, value: null, prev, lease: 0, user, revision: t.main, op: "delete" });
    }
    for (const kv of kvs) t.delete(kv);
    return c.prevKv
      ? { op: "deleteRange", deleted: kvs.length, prevKvs: kvs }
      : { op: "deleteRange", deleted: kvs.length };
  }

  private txn(t: WriteTxn, c: TxnCommand, user: string): TxnResponse {
    const succeeded = c.compare.every((cmp) => this.compare(cmp));
    const ops = succeeded ? c.success : c.failure;
    const responses = ops.map((op) => this.op(t, op, user));
    return { op: "txn", succeeded, responses };
  }

  /** Rules are not checked here: they guard the keyspace, not the rules themselves. */
  private contractSet(t: WriteTxn, c: ContractSetCommand): CommandResponse {
    const guard = this.rules.guard;
    if (guard === undefined) {
      throw new KvError("InvalidArgument", "contract rules are not supported by this store");
    }
    const problem = guard.validateRule(c.name, c.rule);
    if (problem !== null) throw new KvError("InvalidArgument", problem);
    const key = contractKey(c.name);
    const rec = this.dbs.kv.get(key);
    t.put(key, c.rule, 0, rec === undefined ? undefined : decodeRecord(rec).kv);
    this.rules.changed();
    return { op: "contractSet" };
  }

  private contractDelete(t: WriteTxn, c: ContractDeleteCommand): CommandResponse {
    const rec = this.dbs.kv.get(contractKey(c.name));
    if (rec === undefined) return { op: "contractDelete", deleted: 0 };
    t.delete(decodeRecord(rec).kv);
    this.rules.changed();
    return { op: "contractDelete", deleted: 1 };
  }

  private op(t: WriteTxn, op: RequestOp, user: string): OpResponse {
    switch (op.op) {
      case "range": {
        // Reads inside a txn see its earlier writes, at the revision the txn will create.
        const revision = t.changed ? t.main : this.revision;
        const state = { revision, compactRevision: this.compactRevision };
        return { op: "range", ...readRange(this.dbs, op, state) };
      }
      case "put":
        return this.put(t, op, user);
      case "deleteRange":
        return this.deleteRange(t, op, user);
      case "txn":
        return this.txn(t, op, user);
    }
  }

  /** etcd's applyCompare: every key in the range must match; no key compares as a zero KeyValue,
   * except for value compares, which then fail. */
  private compare(c: Compare): boolean {
    const kvs = currentKvs(this.dbs, c.key, c.rangeEnd);
    if (kvs.length === 0) {
      if (c.target === "value") return false;
      return compareOne(c, ZERO_KV);
    }
    return kvs.every((kv) => compareOne(c, kv));
  }
}

const ZERO_KV: KeyValue = {
  key: new Uint8Array(0),
  value: new Uint8Array(0),
  createRevision: 0,
  modRevision: 0,
  version: 0,
  lease: 0,
};

function compareOne(c: Compare, kv: KeyValue): boolean {
  let r: number;
  if (c.target === "value") r = compareBytes(kv.value, c.value);
  else {
    const n =
      c.target === "version"
        ? kv.version
        : c.target === "create"
          ? kv.createRevision
          : c.target === "mod"
            ? kv.modRevision
            : kv.lease;
    r = Math.sign(n - c.number);
  }
  switch (c.result) {
    case "equal":
      return r === 0;
    case "greater":
      return r > 0;
    case "less":
      return r < 0;
    case "not_equal":
      return r !== 0;
  }
}
