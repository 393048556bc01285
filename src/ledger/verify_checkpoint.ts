// Checks a signed checkpoint against the members' keys: what a client, an auditor or a browser
// runs before trusting a tree head. Pure and portable: Ed25519 through WebCrypto
// (globalThis.crypto.subtle), ML-DSA-65 through @noble/post-quantum, SHA-256 through
// @noble/hashes, nothing from node: (the test walks this file's imports to keep it so).
// A member counts only if every algorithm it has a trusted key for verified, so the quorum
// holds while either algorithm stands: forging a checkpoint needs both broken.
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { type Checkpoint, CheckpointFormatError, parseCheckpoint } from "./checkpoint.ts";
import {
  algorithmLabel,
  COSIGNATURE_ALGORITHMS,
  type CosignatureAlgorithm,
  cosignatureKeyId,
  cosignedMessage,
  decodeTimestampedSignature,
  memberPublicKey,
  publicKeyBytes,
  type TrustedMember,
} from "./cosignature.ts";
import { encodeBase64, quote } from "./encoding.ts";
import {
  isValidKeyName,
  MAX_NOTE_SIGNATURES,
  NoteFormatError,
  type NoteSignature,
  parseNote,
  type SignedNote,
} from "./note.ts";

export type CheckpointRejection =
  | "malformed-note"
  | "malformed-checkpoint"
  | "wrong-origin"
  | "bad-signature"
  | "no-quorum";

/** Why a checkpoint is not trusted; `reason` for branching, the message for people. */
export class CheckpointVerificationError extends Error {
  constructor(
    readonly reason: CheckpointRejection,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "CheckpointVerificationError";
  }
}

export interface VerifyCheckpointOptions {
  /** The origin the checkpoint must name: the same members may sign other clusters' logs. */
  readonly origin?: string;
  readonly maxSignatures?: number;
}

export interface VerifiedCosignature {
  readonly name: string;
  readonly algorithm: CosignatureAlgorithm;
  readonly timestamp: number;
}

export interface VerifiedCheckpoint {
  readonly checkpoint: Checkpoint;
  /** The members that count towards the quorum, in the order of the trusted keys. */
  readonly signers: readonly string[];
  /** The signers' verified signatures, with the time each was made. */
  readonly cosignatures: readonly VerifiedCosignature[];
}

interface TrustedKey {
  readonly member: TrustedMember;
  readonly algorithm: CosignatureAlgorithm;
  readonly publicKey: Uint8Array;
}

function algorithmsOf(member: TrustedMember): CosignatureAlgorithm[] {
  return COSIGNATURE_ALGORITHMS.filter(
    (algorithm) => memberPublicKey(member, algorithm) !== undefined,
  );
}

/** The trusted keys by "<name>+<key ID>", after checking the configuration. */
function indexTrustedKeys(
  trustedKeys: readonly TrustedMember[],
  quorum: number,
): Map<string, TrustedKey> {
  if (!Number.isSafeInteger(quorum) || quorum < 1 || quorum > trustedKeys.length) {
    throw new RangeError(`quorum ${quorum} is outside 1..${trustedKeys.length} (the members)`);
  }
  const keys = new Map<string, TrustedKey>();
  const names = new Set<string>();
  for (const member of trustedKeys) {
    if (!isValidKeyName(member.name))
      throw new TypeError(`${quote(member.name)} is not a key name`);
    if (names.has(member.name)) throw new TypeError(`member ${member.name} is listed twice`);
    names.add(member.name);
    const algorithms = algorithmsOf(member);
    if (algorithms.length === 0) throw new TypeError(`member ${member.name} has no public key`);
    for (const algorithm of algorithms) {
      const publicKey = memberPublicKey(member, algorithm)!;
      if (publicKey.length !== publicKeyBytes(algorithm)) {
        throw new TypeError(
          `member ${member.name}'s ${algorithmLabel(algorithm)} key is ${publicKey.length} bytes, not ${publicKeyBytes(algorithm)}`,
        );
      }
      const keyId = cosignatureKeyId(algorithm, member.name, publicKey);
      keys.set(`${member.name}+${keyId}`, { member, algorithm, publicKey });
    }
  }
  return keys;
}

async function verifyEd25519(
  publicKey: Uint8Array,
  signature: Uint8Array,
  message: Uint8Array,
): Promise<boolean> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle === undefined) {
    throw new Error("Ed25519 needs WebCrypto (globalThis.crypto.subtle; in browsers, HTTPS)");
  }
  const key = await subtle
    .importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"])
    .catch((error: Error) => {
      throw new Error(`WebCrypto here cannot verify Ed25519: ${error.message}`);
    });
  return subtle.verify({ name: "Ed25519" }, key, signature, message);
}

function verifyMlDsa65(publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array): boolean {
  try {
    return ml_dsa65.verify(signature, message, publicKey);
  } catch {
    return false; // noble throws on some malformed encodings: they do not verify either
  }
}

/** The signature's timestamp if it verifies; otherwise the note is refused as a whole. */
async function verifySignature(
  line: NoteSignature,
  key: TrustedKey,
  text: string,
): Promise<number> {
  const who = `${key.member.name} (${algorithmLabel(key.algorithm)})`;
  const decoded = decodeTimestampedSignature(key.algorithm, line.signature);
  if (typeof decoded === "string") {
    throw new CheckpointVerificationError(
      "bad-signature",
      `signature by ${who} is malformed: ${decoded}`,
    );
  }
  const message = cosignedMessage(key.algorithm, key.member.name, decoded.timestamp, text);
  const verified =
    key.algorithm === "ed25519"
      ? await verifyEd25519(key.publicKey, decoded.signature, message)
      : verifyMlDsa65(key.publicKey, decoded.signature, message);
  if (!verified) {
    throw new CheckpointVerificationError("bad-signature", `signature by ${who} does not verify`);
  }
  return decoded.timestamp;
}

/**
 * Every signature by a trusted key, verified; a failing one refuses the note (signed-note lets
 * verifiers reject the whole note, and a bad signature from a member is worth an alarm).
 * Signatures by unknown keys are skipped, as signed-note requires; repeated lines count once.
 */
async function verifySignatures(
  note: SignedNote,
  keys: Map<string, TrustedKey>,
): Promise<VerifiedCosignature[]> {
  const verified: VerifiedCosignature[] = [];
  const seen = new Set<string>();
  for (const line of note.signatures) {
    const key = keys.get(`${line.name}+${line.keyId}`);
    if (key === undefined) continue;
    const identity = `${line.name}+${line.keyId}+${encodeBase64(line.signature)}`;
    if (seen.has(identity)) continue;
    seen.add(identity);
    const timestamp = await verifySignature(line, key, note.text);
    verified.push({ name: key.member.name, algorithm: key.algorithm, timestamp });
  }
  return verified;
}

function parse(noteText: string | Uint8Array, maxSignatures: number) {
  try {
    const note = parseNote(noteText, { maxSignatures });
    return { note, checkpoint: parseCheckpoint(note.text) };
  } catch (error) {
    if (error instanceof NoteFormatError) {
      throw new CheckpointVerificationError("malformed-note", error.message, { cause: error });
    }
    if (error instanceof CheckpointFormatError) {
      throw new CheckpointVerificationError("malformed-checkpoint", error.message, {
        cause: error,
      });
    }
    throw error;
  }
}

function noQuorum(
  trustedKeys: readonly TrustedMember[],
  signers: readonly string[],
  verified: readonly VerifiedCosignature[],
  quorum: number,
): CheckpointVerificationError {
  // Members with some algorithms verified but not all: the likeliest surprise, so named.
  const partial = trustedKeys.flatMap((member) => {
    const have = verified.filter((c) => c.name === member.name).map((c) => c.algorithm);
    const missing = algorithmsOf(member).filter((algorithm) => !have.includes(algorithm));
    if (have.length === 0 || missing.length === 0) return [];
    return [`${member.name} has no ${missing.map(algorithmLabel).join(" or ")} signature`];
  });
  const detail = partial.length === 0 ? "" : ` (${partial.join("; ")})`;
  return new CheckpointVerificationError(
    "no-quorum",
    `signed by ${signers.length} of ${trustedKeys.length} members, a quorum is ${quorum}${detail}`,
  );
}

/**
 * The checkpoint in `noteText` if at least `quorum` of `trustedKeys` signed it; otherwise a
 * CheckpointVerificationError saying why (a RangeError or TypeError for a bad configuration).
 */
export async function verifyCheckpoint(
  noteText: string | Uint8Array,
  trustedKeys: readonly TrustedMember[],
  quorum: number,
  options: VerifyCheckpointOptions = {},
): Promise<VerifiedCheckpoint> {
  const keys = indexTrustedKeys(trustedKeys, quorum);
  const { note, checkpoint } = parse(noteText, options.maxSignatures ?? MAX_NOTE_SIGNATURES);
  if (options.origin !== undefined && checkpoint.origin !== options.origin) {
    throw new CheckpointVerificationError(
      "wrong-origin",
      `the checkpoint is for ${quote(checkpoint.origin)}, not ${quote(options.origin)}`,
    );
  }
  const verified = await verifySignatures(note, keys);
  const signers = trustedKeys
    .filter((member) =>
      algorithmsOf(member).every((algorithm) =>
        verified.some((c) => c.name === member.name && c.algorithm === algorithm),
      ),
    )
    .map((member) => member.name);
  if (signers.length < quorum) throw noQuorum(trustedKeys, signers, verified, quorum);
  const cosignatures = verified.filter((c) => signers.includes(c.name));
  return { checkpoint, signers, cosignatures };
}
