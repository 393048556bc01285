// etcd's checks on a Txn before it is proposed: at most --max-txn-ops operations per branch (and
// compares), and no key written twice in one branch (two puts, or a put inside a deleted range).

import { status } from "@grpc/grpc-js";
import type { RequestOp, TxnCommand } from "../../kv/index.ts";
import { EtcdErrors, RpcError } from "./etcd_errors.ts";

/** etcd's default --max-txn-ops. */
export const MAX_TXN_OPS = 128;

/** The kv command codec's nesting limit (etcd has none; 16 levels is far past real use). */
export const MAX_TXN_DEPTH = 16;

export function checkTxn(txn: TxnCommand, maxOps = MAX_TXN_OPS): void {
  if (depthOf(txn) > MAX_TXN_DEPTH) {
    throw new RpcError(
      status.INVALID_ARGUMENT,
      `etcdserver: txn nested too deeply: at most ${MAX_TXN_DEPTH} levels`,
    );
  }
  if (txn.compare.length > maxOps || txn.success.length > maxOps || txn.failure.length > maxOps) {
    throw EtcdErrors.tooManyOps;
  }
  branchWrites(txn.success, maxOps);
  branchWrites(txn.failure, maxOps);
}

function depthOf(txn: TxnCommand): number {
  let deepest = 0;
  for (const op of [...txn.success, ...txn.failure]) {
    if (op.op === "txn") deepest = Math.max(deepest, depthOf(op));
  }
  return deepest + 1;
}

interface Writes {
  puts: Set<string>;
  deletes: { key: Uint8Array; rangeEnd: Uint8Array }[];
}

/** The keys a branch writes, checked for overlaps; nested txns contribute both their branches. */
function branchWrites(ops: readonly RequestOp[], maxOps: number): Writes {
  const writes: Writes = { puts: new Set(), deletes: [] };
  for (const op of ops) {
    if (op.op === "put") {
      const key = Buffer.from(op.key).toString("latin1");
      if (writes.puts.has(key)) throw EtcdErrors.duplicateKey;
      writes.puts.add(key);
    } else if (op.op === "deleteRange") {
      writes.deletes.push({ key: op.key, rangeEnd: op.rangeEnd });
    } else if (op.op === "txn") {
      checkTxn(op, maxOps);
      // Only one of the nested branches runs, so they may write the same key as each other.
      const nested = [branchWrites(op.success, maxOps), branchWrites(op.failure, maxOps)];
      for (const branch of nested) {
        for (const key of branch.puts) {
          if (writes.puts.has(key)) throw EtcdErrors.duplicateKey;
        }
      }
      for (const branch of nested) {
        for (const key of branch.puts) writes.puts.add(key);
        writes.deletes.push(...branch.deletes);
      }
    }
  }
  for (const key of writes.puts) {
    const bytes = Buffer.from(key, "latin1");
    if (writes.deletes.some((range) => inRange(bytes, range.key, range.rangeEnd))) {
      throw EtcdErrors.duplicateKey;
    }
  }
  return writes;
}

function inRange(key: Uint8Array, start: Uint8Array, end: Uint8Array): boolean {
  if (end.length === 0) return Buffer.compare(key, start) === 0;
  if (Buffer.compare(key, start) < 0) return false;
  if (end.length === 1 && end[0] === 0) return true;
  return Buffer.compare(key, end) < 0;
}
