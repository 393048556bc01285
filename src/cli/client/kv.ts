// put, get, del: etcdctl's flags and output over the KV service. The request builders are shared
// with txn, whose operation lines use the same flags.
import type { Command } from "commander";
import { prefixEnd } from "../../kv/index.ts";
import { parseLeaseId, parseNonNegative } from "./ids.ts";
import { kvLines, write, writeJson } from "./output.ts";
import { type ConnectionFlags, clientAction, usageError, withConnectionFlags } from "./session.ts";

export interface PutFlags {
  lease?: string;
  prevKv?: boolean;
}
export interface GetFlags {
  prefix?: boolean;
  fromKey?: boolean;
  rev?: string;
  limit?: string;
  keysOnly?: boolean;
  printValueOnly?: boolean;
  serializable?: boolean;
}
export interface DelFlags {
  prefix?: boolean;
  fromKey?: boolean;
  prevKv?: boolean;
}

/** key and range_end as etcd's clientv3 sets them for --prefix and --from-key. */
export function keyRange(key: string, flags: { prefix?: boolean; fromKey?: boolean }) {
  const keyBytes = Buffer.from(key, "utf8");
  const zero = Buffer.from([0]);
  if (flags.prefix && flags.fromKey) return undefined;
  if (flags.prefix)
    return keyBytes.length === 0
      ? { key: zero, range_end: zero }
      : { key: keyBytes, range_end: prefixEnd(keyBytes) };
  if (flags.fromKey) return { key: keyBytes.length === 0 ? zero : keyBytes, range_end: zero };
  return { key: keyBytes };
}

function rangeOrThrow(key: string, flags: { prefix?: boolean; fromKey?: boolean }) {
  const range = keyRange(key, flags);
  if (range === undefined) throw usageError("--prefix and --from-key cannot be used together");
  return range;
}

export function putRequest(key: string, value: string, flags: PutFlags) {
  return {
    key: Buffer.from(key, "utf8"),
    value: Buffer.from(value, "utf8"),
    lease: flags.lease === undefined ? "0" : parseLeaseId(flags.lease),
    prev_kv: flags.prevKv === true,
  };
}

export function rangeRequest(key: string, flags: GetFlags) {
  return {
    ...rangeOrThrow(key, flags),
    limit: flags.limit === undefined ? "0" : parseNonNegative("--limit", flags.limit),
    revision: flags.rev === undefined ? "0" : parseNonNegative("--rev", flags.rev),
    keys_only: flags.keysOnly === true,
    serializable: flags.serializable === true,
  };
}

export function deleteRequest(key: string, flags: DelFlags) {
  return { ...rangeOrThrow(key, flags), prev_kv: flags.prevKv === true };
}

export const putText = (response: any) =>
  `OK\n${response.prev_kv === null ? "" : kvLines(response.prev_kv)}`;
export const rangeText = (response: any, valueOnly = false) =>
  response.kvs.map((kv: any) => kvLines(kv, valueOnly)).join("");
export const deleteText = (response: any) =>
  `${response.deleted}\n${response.prev_kvs.map((kv: any) => kvLines(kv)).join("")}`;

export function addKvCommands(program: Command): void {
  withConnectionFlags(program.command("put <key> <value>"))
    .description("write a key (-- before a value that starts with -)")
    .option("--lease <id>", "attach the key to this lease (hex id, as `lease grant` prints it)")
    .option("--prev-kv", "print the previous key-value")
    .action(
      clientAction(
        async (session, key: string, value: string, flags: PutFlags & ConnectionFlags) => {
          const response = await session.call("KV", "Put", putRequest(key, value, flags));
          if (flags.writeOut === "json") writeJson(response, "PutResponse");
          else write(putText(response));
        },
      ),
    );
  withConnectionFlags(program.command("get <key>"))
    .description("read a key (or a range); linearizable unless --serializable")
    .option("--prefix", "every key with this prefix")
    .option("--from-key", "every key from this one on (byte order)")
    .option("--rev <revision>", "read as of a past revision")
    .option("--limit <n>", "at most n keys")
    .option("--keys-only", "keys without values")
    .option("--print-value-only", "values without keys")
    .option("--serializable", "this member's local state (may be stale, needs no quorum)")
    .action(
      clientAction(async (session, key: string, flags: GetFlags & ConnectionFlags) => {
        const response = await session.call("KV", "Range", rangeRequest(key, flags));
        if (flags.writeOut === "json") writeJson(response, "RangeResponse");
        else write(rangeText(response, flags.printValueOnly === true));
      }),
    );
  withConnectionFlags(program.command("del <key>"))
    .description("delete a key (or a range); prints how many were deleted")
    .option("--prefix", "every key with this prefix")
    .option("--from-key", "every key from this one on (byte order)")
    .option("--prev-kv", "print the deleted key-values")
    .action(
      clientAction(async (session, key: string, flags: DelFlags & ConnectionFlags) => {
        const response = await session.call("KV", "DeleteRange", deleteRequest(key, flags));
        if (flags.writeOut === "json") writeJson(response, "DeleteRangeResponse");
        else write(deleteText(response));
      }),
    );
}
