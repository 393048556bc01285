// Parsing ids and numbers from the command line. Lease and member ids are hex, as etcdctl prints
// and reads them; the decoded protos carry them as decimal strings.
import { usageError } from "./session.ts";

const MAX_UINT64 = (1n << 64n) - 1n;

function parseHex(what: string, text: string): string {
  if (!/^(0x)?[0-9a-fA-F]{1,16}$/.test(text))
    throw usageError(
      `bad ${what} "${text}": expected a hex id (as \`qmesh ${what === "lease ID" ? "lease list" : "member list"}\` prints it)`,
    );
  const value = BigInt(`0x${text.replace(/^0x/, "")}`);
  if (value > MAX_UINT64) throw usageError(`bad ${what} "${text}": more than 64 bits`);
  return value.toString();
}

/** A lease id: hex, signed 64-bit on the wire (etcd's LeaseID is int64). */
export function parseLeaseId(text: string): string {
  return BigInt.asIntN(64, BigInt(parseHex("lease ID", text))).toString();
}

/** A member id: hex, unsigned 64-bit. */
export function parseMemberId(text: string): string {
  return parseHex("member ID", text);
}

export function parseNonNegative(flag: string, text: string): string {
  if (!/^\d+$/.test(text) || BigInt(text) > (1n << 63n) - 1n)
    throw usageError(`${flag} must be a non-negative integer, got "${text}"`);
  return BigInt(text).toString();
}
