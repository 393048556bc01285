// The replicated command codec. Binary, not JSON: values stay bytes and encoding is canonical,
// so every member decodes exactly what the leader proposed.
//
// Layout: [format version u8 = 1][op u8][fields...]. Byte strings are varint length + bytes,
// revisions/counts are LEB128 varints, lease ids are u64 big-endian (8 bytes, like etcd's int64).
// Auth ops take op codes from 64 up; their fields are in auth_command.ts.
//
// A put, delete or txn sent by an authenticated user ends with the trailer [0x01][user bytes]
// after its op; without a user there is no trailer, so such commands encode as they always did.

import { AUTH_OP_BASE, isAuthCommand, readAuthOp, writeAuthOp } from "./auth_command.ts";
import { ByteReader, ByteWriter } from "./bytes.ts";
import { CommandDecodeError } from "./errors.ts";
import type {
  Command,
  Compare,
  CompareResult,
  CompareTarget,
  RangeOp,
  RequestOp,
  SortOrder,
  SortTarget,
} from "./types.ts";

export { CommandDecodeError };

const FORMAT_VERSION = 1;
/** Bounds nested txns so a hostile entry cannot blow the stack of every member. */
const MAX_TXN_DEPTH = 16;

const OPS = [
  "put",
  "deleteRange",
  "txn",
  "compact",
  "leaseGrant",
  "leaseRevoke",
  "range",
  "alarm",
  "contractSet",
  "contractDelete",
] as const;
/** The trailer tag of a command's user (see the top of this file). */
const USER_TRAILER = 1;
const ALARM_ACTIONS = ["activate", "deactivate"] as const;
const TARGETS: readonly CompareTarget[] = ["value", "version", "create", "mod", "lease"];
const RESULTS: readonly CompareResult[] = ["equal", "greater", "less", "not_equal"];
const SORT_ORDERS: readonly SortOrder[] = ["none", "ascend", "descend"];
const SORT_TARGETS: readonly SortTarget[] = ["key", "version", "create", "mod", "value"];

type AnyOp = Command | RangeOp;

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function encodeCommand(c: Command): Uint8Array {
  const w = new ByteWriter();
  w.u8(FORMAT_VERSION);
  writeOp(w, c, 0);
  const user = "user" in c && typeof c.user === "string" ? c.user : "";
  if (user !== "" && (c.op === "put" || c.op === "deleteRange" || c.op === "txn")) {
    w.u8(USER_TRAILER);
    w.bytes(enc.encode(user));
  }
  return w.finish();
}

export function decodeCommand(b: Uint8Array): Command {
  const r = new ByteReader(b, (m) => new CommandDecodeError(m));
  const version = r.u8();
  if (version !== FORMAT_VERSION) throw new CommandDecodeError(`unknown format version ${version}`);
  const op = readOp(r, 0);
  if (op.op === "range") throw new CommandDecodeError("range is only valid inside a txn");
  if (r.done) return op;
  if (r.u8() !== USER_TRAILER) throw new CommandDecodeError("trailing bytes");
  if (op.op !== "put" && op.op !== "deleteRange" && op.op !== "txn") {
    throw new CommandDecodeError(`${op.op} takes no user`);
  }
  const user = text(r, "user");
  // Canonical: no user is written as no trailer.
  if (user === "") throw new CommandDecodeError("empty user trailer");
  if (!r.done) throw new CommandDecodeError("trailing bytes");
  return { ...op, user };
}

function writeOp(w: ByteWriter, c: AnyOp, depth: number): void {
  if (depth > MAX_TXN_DEPTH) throw new RangeError("txn nested too deeply");
  if (isAuthCommand(c)) {
    writeAuthOp(w, c);
    return;
  }
  w.u8(OPS.indexOf(c.op) + 1);
  switch (c.op) {
    case "put":
      w.bytes(c.key);
      w.bytes(c.value);
      w.u64(c.lease);
      w.u8((c.prevKv ? 1 : 0) | (c.ignoreValue ? 2 : 0) | (c.ignoreLease ? 4 : 0));
      return;
    case "deleteRange":
      w.bytes(c.key);
      w.bytes(c.rangeEnd);
      w.u8(c.prevKv ? 1 : 0);
      return;
    case "range":
      writeRange(w, c);
      return;
    case "txn":
      w.varint(c.compare.length);
      for (const cmp of c.compare) writeCompare(w, cmp);
      for (const branch of [c.success, c.failure]) {
        w.varint(branch.length);
        for (const op of branch) writeOp(w, op, depth + 1);
      }
      return;
    case "compact":
      w.varint(c.revision);
      return;
    case "leaseGrant":
      w.u64(c.id);
      w.varint(c.ttlSeconds);
      return;
    case "leaseRevoke":
      w.u64(c.id);
      return;
    case "alarm":
      w.u8(ALARM_ACTIONS.indexOf(c.action));
      w.u64(c.memberId);
      w.u8(c.alarm);
      return;
    case "contractSet":
      w.bytes(enc.encode(c.name));
      w.bytes(c.rule);
      return;
    case "contractDelete":
      w.bytes(enc.encode(c.name));
      return;
  }
}

function writeRange(w: ByteWriter, c: RangeOp): void {
  w.bytes(c.key);
  w.bytes(c.rangeEnd ?? new Uint8Array(0));
  w.varint(c.revision ?? 0);
  w.varint(c.limit ?? 0);
  w.u8(SORT_ORDERS.indexOf(c.sortOrder ?? "none"));
  w.u8(SORT_TARGETS.indexOf(c.sortTarget ?? "key"));
  w.u8((c.countOnly ? 1 : 0) | (c.keysOnly ? 2 : 0));
  w.varint(c.minModRevision ?? 0);
  w.varint(c.maxModRevision ?? 0);
  w.varint(c.minCreateRevision ?? 0);
  w.varint(c.maxCreateRevision ?? 0);
}

function writeCompare(w: ByteWriter, c: Compare): void {
  w.u8(TARGETS.indexOf(c.target));
  w.u8(RESULTS.indexOf(c.result));
  w.bytes(c.key);
  w.bytes(c.rangeEnd);
  if (c.target === "value") w.bytes(c.value);
  else if (c.target === "lease") w.u64(c.number);
  else w.varint(c.number);
}

function pick<T>(table: readonly T[], i: number, what: string): T {
  const v = table[i];
  if (v === undefined) throw new CommandDecodeError(`unknown ${what} ${i}`);
  return v;
}

function readOp(r: ByteReader, depth: number): AnyOp {
  if (depth > MAX_TXN_DEPTH) throw new CommandDecodeError("txn nested too deeply");
  const code = r.u8();
  if (code >= AUTH_OP_BASE) return readAuthOp(r, code);
  const op = pick(OPS, code - 1, "op");
  switch (op) {
    case "put": {
      const key = r.bytes();
      const value = r.bytes();
      const lease = r.u64();
      const f = r.u8();
      if (f > 7) throw new CommandDecodeError("bad put flags");
      return {
        op,
        key,
        value,
        lease,
        prevKv: (f & 1) !== 0,
        ignoreValue: (f & 2) !== 0,
        ignoreLease: (f & 4) !== 0,
      };
    }
    case "deleteRange": {
      const key = r.bytes();
      const rangeEnd = r.bytes();
      const f = r.u8();
      if (f > 1) throw new CommandDecodeError("bad deleteRange flags");
      return { op, key, rangeEnd, prevKv: f === 1 };
    }
    case "range":
      return readRange(r);
    case "txn": {
      const compare: Compare[] = [];
      for (let n = r.varint(); n > 0; n--) compare.push(readCompare(r));
      const success = readBranch(r, depth);
      const failure = readBranch(r, depth);
      return { op, compare, success, failure };
    }
    case "compact":
      return { op, revision: r.varint() };
    case "leaseGrant":
      return { op, id: r.u64(), ttlSeconds: r.varint() };
    case "leaseRevoke":
      return { op, id: r.u64() };
    case "alarm": {
      const action = pick(ALARM_ACTIONS, r.u8(), "alarm action");
      const memberId = r.u64();
      const alarm = r.u8();
      if (alarm !== 1 && alarm !== 2) throw new CommandDecodeError(`unknown alarm type ${alarm}`);
      return { op, action, memberId, alarm };
    }
    case "contractSet":
      return { op, name: text(r, "rule name"), rule: r.bytes() };
    case "contractDelete":
      return { op, name: text(r, "rule name") };
  }
}

function text(r: ByteReader, what: string): string {
  try {
    return dec.decode(r.bytes());
  } catch (e) {
    if (e instanceof CommandDecodeError) throw e;
    throw new CommandDecodeError(`${what} is not UTF-8`);
  }
}

function readBranch(r: ByteReader, depth: number): RequestOp[] {
  const ops: RequestOp[] = [];
  for (let n = r.varint(); n > 0; n--) {
    const op = readOp(r, depth + 1);
    if (
      op.op === "compact" ||
      op.op === "leaseGrant" ||
      op.op === "leaseRevoke" ||
      op.op === "alarm" ||
      op.op === "contractSet" ||
      op.op === "contractDelete" ||
      isAuthCommand(op)
    ) {
      throw new CommandDecodeError(`${op.op} is not allowed inside a txn`);
    }
    ops.push(op);
  }
  return ops;
}

function readRange(r: ByteReader): RangeOp {
  const key = r.bytes();
  const rangeEnd = r.bytes();
  const revision = r.varint();
  const limit = r.varint();
  const sortOrder = pick(SORT_ORDERS, r.u8(), "sort order");
  const sortTarget = pick(SORT_TARGETS, r.u8(), "sort target");
  const f = r.u8();
  if (f > 3) throw new CommandDecodeError("bad range flags");
  return {
    op: "range",
    key,
    rangeEnd,
    revision,
    limit,
    sortOrder,
    sortTarget,
    countOnly: (f & 1) !== 0,
    keysOnly: (f & 2) !== 0,
    minModRevision: r.varint(),
    maxModRevision: r.varint(),
    minCreateRevision: r.varint(),
    maxCreateRevision: r.varint(),
  };
}

function readCompare(r: ByteReader): Compare {
  const target = pick(TARGETS, r.u8(), "compare target");
  const result = pick(RESULTS, r.u8(), "compare result");
  const key = r.bytes();
  const rangeEnd = r.bytes();
  if (target === "value") return { target, result, key, rangeEnd, value: r.bytes() };
  const number = target === "lease" ? r.u64() : r.varint();
  return { target, result, key, rangeEnd, number };
}
