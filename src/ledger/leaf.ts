// One ledger leaf: a committed log entry that reached the state machine, with what became of it.
// The encoding is canonical (one byte string per leaf, fixed field order, big-endian integers)
// and versioned, because every member hashes it and an auditor re-hashes it years later.
//
//   u8  version (1)          u8  kind (LeafKind)
//   u64 raft index           u64 term             u64 proposer member id (0: none)
//   u64 revision after the entry was applied
//   u8  outcome (0 applied, 1 rejected)
//   u32 reason length, reason (UTF-8; empty when applied)
//   u32 request length, request (the payload as proposed: a kv command, a conf change, ...)

export const LEAF_VERSION = 1;

export const LeafKind = {
  /** A kv command: put, delete range, txn, compaction, lease grant or revoke. */
  Kv: 1,
  /** A membership change (raft conf change, with the member's addresses). */
  Membership: 2,
  /** A member publishing its attributes (client URLs, ledger keys). */
  MemberAttributes: 3,
  /** A ledger-internal entry: a checkpoint's cosignature. */
  Ledger: 4,
} as const;
export type LeafKind = (typeof LeafKind)[keyof typeof LeafKind];

export interface Leaf {
  readonly kind: LeafKind;
  readonly index: number;
  readonly term: number;
  readonly proposer: number;
  readonly revision: number;
  /** null when applied; otherwise why the state machine refused the request. */
  readonly rejected: string | null;
  readonly request: Uint8Array;
}

const FIXED_BYTES = 2 + 8 * 4 + 1 + 4 + 4;

export class LeafDecodeError extends Error {
  override name = "LeafDecodeError";
}

const utf8 = new TextEncoder();

/** Encodes into a reused buffer: the result is valid until the next encode() call. */
export class LeafEncoder {
  private scratch = new Uint8Array(4096);
  private view = new DataView(this.scratch.buffer);

  encode(leaf: Leaf): Uint8Array {
    const reason = leaf.rejected === null ? EMPTY : utf8.encode(leaf.rejected);
    const size = FIXED_BYTES + reason.length + leaf.request.length;
    if (size > this.scratch.length) {
      this.scratch = new Uint8Array(2 * size);
      this.view = new DataView(this.scratch.buffer);
    }
    const b = this.scratch;
    const v = this.view;
    b[0] = LEAF_VERSION;
    b[1] = leaf.kind;
    setU64(v, 2, leaf.index);
    setU64(v, 10, leaf.term);
    setU64(v, 18, leaf.proposer);
    setU64(v, 26, leaf.revision);
    b[34] = leaf.rejected === null ? 0 : 1;
    v.setUint32(35, reason.length);
    b.set(reason, 39);
    let at = 39 + reason.length;
    v.setUint32(at, leaf.request.length);
    at += 4;
    b.set(leaf.request, at);
    return b.subarray(0, at + leaf.request.length);
  }
}

const EMPTY = new Uint8Array(0);

/** A safe integer as big-endian u64, without a BigInt (this runs for every leaf). */
function setU64(view: DataView, at: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`leaf field ${value} is not a whole number in 0..2^53`);
  }
  view.setUint32(at, Math.floor(value / 0x1_0000_0000));
  view.setUint32(at + 4, value >>> 0);
}

export function encodeLeaf(leaf: Leaf): Uint8Array {
  return Uint8Array.from(new LeafEncoder().encode(leaf));
}

export function decodeLeaf(bytes: Uint8Array): Leaf {
  const fail = (what: string): never => {
    throw new LeafDecodeError(`not a qmesh ledger leaf: ${what} (${bytes.length} bytes)`);
  };
  if (bytes.length < FIXED_BYTES) fail("too short");
  if (bytes[0] !== LEAF_VERSION) fail(`version ${bytes[0]}, expected ${LEAF_VERSION}`);
  const kind = bytes[1]!;
  if (kind < LeafKind.Kv || kind > LeafKind.Ledger) fail(`unknown kind ${kind}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (at: number) => {
    const value = view.getBigUint64(at);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(`integer at byte ${at} is too large`);
    return Number(value);
  };
  const outcome = bytes[34];
  if (outcome !== 0 && outcome !== 1) fail(`outcome byte ${outcome}`);
  const reasonBytes = view.getUint32(35);
  const requestAt = 39 + reasonBytes + 4;
  if (requestAt > bytes.length) fail("reason runs past the end");
  if (outcome === 0 && reasonBytes !== 0) fail("an applied leaf has a rejection reason");
  const requestBytes = view.getUint32(39 + reasonBytes);
  if (requestAt + requestBytes !== bytes.length) fail("request length does not match the leaf");
  return {
    kind: kind as LeafKind,
    index: u64(2),
    term: u64(10),
    proposer: u64(18),
    revision: u64(26),
    rejected:
      outcome === 0
        ? null
        : new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(39, 39 + reasonBytes)),
    request: bytes.slice(requestAt),
  };
}
