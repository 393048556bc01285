// The ledger's client side, safe for browsers: everything here runs on WebCrypto and noble, with
// nothing from node:. Import this module (not index.ts, whose signing uses node:crypto) in web
// code that checks receipts, proofs and checkpoints without trusting the server.
export { type Checkpoint, CheckpointFormatError, parseCheckpoint } from "./checkpoint.ts";
export type { TrustedMember } from "./cosignature.ts";
export { decodeLeaf, type Leaf, LeafKind } from "./leaf.ts";
export { hashLeaf, rootFromInclusionProof, verifyConsistency, verifyInclusion } from "./merkle.ts";
export { decodePublicLedgerKeys, LedgerKeysError } from "./public_keys.ts";
export {
  encodeReceipt,
  parseReceipt,
  type Receipt,
  ReceiptError,
  type VerifiedReceipt,
  verifyReceipt,
} from "./receipt.ts";
export {
  CheckpointVerificationError,
  type VerifiedCheckpoint,
  verifyCheckpoint,
} from "./verify_checkpoint.ts";
