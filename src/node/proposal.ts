// What a member proposes to the log: a small envelope around the payload that says who proposed
// it and under which sequence number, so that the proposer (and only it) can answer its client
// when the entry is applied, whichever member led at the time.
import type { NodeId } from "../raft/index.ts";

export const ProposalKind = {
  /** A kv/ command (put, delete, txn, compact, lease grant or revoke). */
  Kv: 1,
  /** A member publishing its client URL (JSON MemberInfo), as etcd's publish request. */
  MemberAttributes: 2,
  /** The ledger's own entries: a seal, or a member's signed checkpoint (ledger_command.ts). */
  Ledger: 3,
} as const;
export type ProposalKind = (typeof ProposalKind)[keyof typeof ProposalKind];

const VERSION = 1;
const HEADER_BYTES = 18;

export interface Proposal {
  readonly kind: ProposalKind;
  readonly proposer: NodeId;
  readonly sequence: number;
  readonly payload: Uint8Array;
}

export class ProposalDecodeError extends Error {
  override name = "ProposalDecodeError";
}

export function encodeProposal(
  kind: ProposalKind,
  proposer: NodeId,
  sequence: number,
  payload: Uint8Array,
): Uint8Array {
  const bytes = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  bytes[0] = VERSION;
  bytes[1] = kind;
  bytes.writeDoubleBE(proposer, 2);
  bytes.writeDoubleBE(sequence, 10);
  bytes.set(payload, HEADER_BYTES);
  return bytes;
}

export function decodeProposal(data: Uint8Array): Proposal {
  if (data.length < HEADER_BYTES || data[0] !== VERSION) {
    throw new ProposalDecodeError(
      `log entry is not a qmesh v${VERSION} proposal (${data.length} bytes, version ${data[0]})`,
    );
  }
  const kind = data[1];
  if (
    kind !== ProposalKind.Kv &&
    kind !== ProposalKind.MemberAttributes &&
    kind !== ProposalKind.Ledger
  ) {
    throw new ProposalDecodeError(`unknown proposal kind ${kind}`);
  }
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return {
    kind,
    proposer: view.readDoubleBE(2),
    sequence: view.readDoubleBE(10),
    payload: data.subarray(HEADER_BYTES),
  };
}
