// A receipt: everything needed to show, offline and trusting no server, that a write is in the
// ledger — the leaf, its inclusion proof, the certified checkpoint (a signed note) the proof
// leads to, and the signers' public keys. Pure and browser-safe: WebCrypto and noble only.

import type { TrustedMember } from "./cosignature.ts";
import { decodeBase64 } from "./encoding.ts";
import { decodeLeaf, type Leaf } from "./leaf.ts";
import { hashLeaf, verifyInclusion } from "./merkle.ts";
import { type VerifiedCheckpoint, verifyCheckpoint } from "./verify_checkpoint.ts";

export const RECEIPT_FORMAT = "qmesh-receipt/v1";

export interface Receipt {
  readonly format: typeof RECEIPT_FORMAT;
  /** The key the write was about (UTF-8, as given to `ledger proof`). */
  readonly key: string;
  /** The store revision the write created. */
  readonly revision: number;
  readonly leafIndex: number;
  /** The leaf's bytes, base64. */
  readonly leaf: string;
  /** The inclusion proof, base64 hashes, leaf side first. */
  readonly proof: readonly string[];
  /** The certified checkpoint: a C2SP signed note. */
  readonly checkpoint: string;
  /** The voters' public ledger keys when the receipt was made (qmesh-ledger-public-keys/v1). */
  readonly memberKeys: readonly string[];
}

export class ReceiptError extends Error {
  override name = "ReceiptError";
}

export interface VerifiedReceipt {
  readonly leaf: Leaf;
  readonly checkpoint: VerifiedCheckpoint;
}

export function encodeReceipt(receipt: Receipt): string {
  return `${JSON.stringify(receipt, null, 2)}\n`;
}

export function parseReceipt(text: string): Receipt {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new ReceiptError(`not a receipt: not JSON (${(error as Error).message})`);
  }
  if (value === null || typeof value !== "object" || value.format !== RECEIPT_FORMAT) {
    throw new ReceiptError(`not a receipt: its format is not ${RECEIPT_FORMAT}`);
  }
  const strings = (field: string) => {
    const list = value[field];
    if (!Array.isArray(list) || list.some((item) => typeof item !== "string")) {
      throw new ReceiptError(`not a receipt: ${field} is not a list of strings`);
    }
    return list as string[];
  };
  for (const field of ["key", "leaf", "checkpoint"]) {
    if (typeof value[field] !== "string") throw new ReceiptError(`not a receipt: no ${field}`);
  }
  for (const field of ["revision", "leafIndex"]) {
    if (!Number.isSafeInteger(value[field]) || (value[field] as number) < 0) {
      throw new ReceiptError(`not a receipt: ${field} is not a whole number`);
    }
  }
  return {
    format: RECEIPT_FORMAT,
    key: value.key as string,
    revision: value.revision as number,
    leafIndex: value.leafIndex as number,
    leaf: value.leaf as string,
    proof: strings("proof"),
    checkpoint: value.checkpoint as string,
    memberKeys: strings("memberKeys"),
  };
}

/**
 * Checks a receipt against `trustedKeys` (pin them; the receipt's own memberKeys are only as
 * trustworthy as whoever handed over the receipt): a quorum of them signed the checkpoint, the
 * leaf is in that tree at its index, and the leaf records an applied write of that revision.
 * Throws ReceiptError (or CheckpointVerificationError) saying what does not hold.
 */
export async function verifyReceipt(
  receipt: Receipt,
  trustedKeys: readonly TrustedMember[],
  quorum: number,
  options: { origin?: string } = {},
): Promise<VerifiedReceipt> {
  const checkpoint = await verifyCheckpoint(receipt.checkpoint, trustedKeys, quorum, options);
  const { size, rootHash } = checkpoint.checkpoint;
  const leafBytes = decodeBase64(receipt.leaf);
  const proof = receipt.proof.map((hash) => decodeBase64(hash));
  if (leafBytes === null || proof.some((hash) => hash === null)) {
    throw new ReceiptError("the receipt's leaf or proof is not canonical base64");
  }
  if (receipt.leafIndex >= size) {
    throw new ReceiptError(
      `leaf ${receipt.leafIndex} is not in the certified tree of ${size} leaves`,
    );
  }
  if (
    !verifyInclusion(hashLeaf(leafBytes), receipt.leafIndex, size, proof as Uint8Array[], rootHash)
  ) {
    throw new ReceiptError(
      `the inclusion proof does not lead from leaf ${receipt.leafIndex} to the certified root of ` +
        `tree size ${size}: the leaf, its index or the proof was changed`,
    );
  }
  const leaf = decodeLeaf(leafBytes);
  if (leaf.rejected !== null) {
    throw new ReceiptError(`leaf ${receipt.leafIndex} records a rejected write: ${leaf.rejected}`);
  }
  if (leaf.revision !== receipt.revision) {
    throw new ReceiptError(
      `leaf ${receipt.leafIndex} records revision ${leaf.revision}, not ${receipt.revision}`,
    );
  }
  return { leaf, checkpoint };
}
