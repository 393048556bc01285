// LMDB limits keys to 1978 bytes (lmdb-js's build), and qmesh stores a user key as an LMDB key
// in several databases (in `leasekey` behind an 8-byte lease id). Longer keys are refused as a
// request error, before proposing and again at apply, where every member refuses alike; they
// must never reach LMDB, whose error would stop apply.
import { contractKey } from "./contract_rules.ts";
import { KvError } from "./errors.ts";
import type { Command, RangeRequest, RequestOp } from "./types.ts";

export const MAX_KEY_BYTES = 1_900;

function check(bytes: Uint8Array | undefined, what: string): void {
  if (bytes !== undefined && bytes.length > MAX_KEY_BYTES) {
    throw new KvError(
      "InvalidArgument",
      `etcdserver: ${what} is too long: ${bytes.length} bytes, over qmesh's limit of ` +
        `${MAX_KEY_BYTES} (keys live in LMDB, which caps key size); use a shorter key`,
    );
  }
}

export function checkRangeKeys(request: Pick<RangeRequest, "key" | "rangeEnd">): void {
  check(request.key, "key");
  check(request.rangeEnd, "range end");
}

/** Throws KvError(InvalidArgument) if any key or range end in the command is too long. */
export function checkCommandKeys(command: Command | RequestOp): void {
  switch (command.op) {
    case "put":
      check(command.key, "key");
      return;
    case "range":
    case "deleteRange":
      checkRangeKeys(command);
      return;
    case "contractSet":
    case "contractDelete":
      check(contractKey(command.name), "contract rule key");
      return;
    case "txn":
      for (const compare of command.compare) checkRangeKeys(compare);
      for (const op of command.success) checkCommandKeys(op);
      for (const op of command.failure) checkCommandKeys(op);
      return;
    default:
      return;
  }
}
