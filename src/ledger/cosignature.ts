// The two signature types a member signs checkpoints with, both note signatures (note.ts) whose
// bytes are a timestamped_signature (c2sp.org/tlog-cosignature): a big-endian uint64 of POSIX
// seconds, then the signature. What each signs:
// - Ed25519, type 0x04, exactly tlog-cosignature v1: "cosignature/v1\ntime <t>\n" + checkpoint.
// - ML-DSA-65, which signed-note assigns no type (0x06 is tlog-cosignature's ML-DSA-44): type
//   0xff, "reserved for signature types without an identifier byte assigned by this
//   specification. It is RECOMMENDED that this byte be followed by a longer identifier that is
//   unlikely to collide" (c2sp.org/signed-note, "Signature types"). The message is v1's with our
//   identifier as its header and the key name on a line of its own: like tlog-cosignature's
//   ML-DSA-44 message it commits to the cosigner's name, and unlike that message it covers the
//   extension lines, so a change anywhere in the checkpoint fails both algorithms alike.
// Both verify in browsers: nothing here imports node:.
import { concatBytes, encodeUtf8, equalBytes, quote } from "./encoding.ts";
import { computeKeyId, formatVerifierKey, NoteFormatError, parseVerifierKey } from "./note.ts";

export type CosignatureAlgorithm = "ed25519" | "ml-dsa-65";

export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
export const MLDSA65_PUBLIC_KEY_BYTES = 1952;
export const MLDSA65_SIGNATURE_BYTES = 3309;
const TIMESTAMP_BYTES = 8;

/** tlog-cosignature caps timestamps at 2^63 - 1; qmesh keeps them exact as numbers. */
export const MAX_COSIGNATURE_TIMESTAMP = Number.MAX_SAFE_INTEGER;

/** c2sp.org/signed-note type 0x04: timestamped Ed25519 checkpoint cosignatures. */
export const ED25519_COSIGNATURE_TYPE: Uint8Array = Uint8Array.of(0x04);

/** Names qmesh's ML-DSA-65 cosignature: in its signature type, and as its message's header. */
export const MLDSA65_COSIGNATURE_IDENTIFIER = "qmesh/cosignature/ml-dsa-65/v1";

/**
 * 0xff, then the identifier as an RFC 8446 opaque<1..255> (a length byte first, the notation
 * tlog-cosignature uses), so that a verifier key's bytes split into type and key unambiguously.
 */
export const MLDSA65_COSIGNATURE_TYPE: Uint8Array = concatBytes(
  Uint8Array.of(0xff, MLDSA65_COSIGNATURE_IDENTIFIER.length),
  encodeUtf8(MLDSA65_COSIGNATURE_IDENTIFIER),
);

const ALGORITHMS = {
  ed25519: {
    label: "Ed25519",
    type: ED25519_COSIGNATURE_TYPE,
    publicKeyBytes: ED25519_PUBLIC_KEY_BYTES,
    signatureBytes: ED25519_SIGNATURE_BYTES,
  },
  "ml-dsa-65": {
    label: "ML-DSA-65",
    type: MLDSA65_COSIGNATURE_TYPE,
    publicKeyBytes: MLDSA65_PUBLIC_KEY_BYTES,
    signatureBytes: MLDSA65_SIGNATURE_BYTES,
  },
} as const;

export const COSIGNATURE_ALGORITHMS: readonly CosignatureAlgorithm[] = ["ed25519", "ml-dsa-65"];

/** "Ed25519" or "ML-DSA-65", for messages. */
export function algorithmLabel(algorithm: CosignatureAlgorithm): string {
  return ALGORITHMS[algorithm].label;
}

export function publicKeyBytes(algorithm: CosignatureAlgorithm): number {
  return ALGORITHMS[algorithm].publicKeyBytes;
}

/** A member's public ledger keys: whichever algorithms it has, under one key name. */
export interface TrustedMember {
  readonly name: string;
  readonly ed25519PublicKey?: Uint8Array;
  readonly mldsaPublicKey?: Uint8Array;
}

/** The member's key for `algorithm`, if it has one. */
export function memberPublicKey(
  member: TrustedMember,
  algorithm: CosignatureAlgorithm,
): Uint8Array | undefined {
  return algorithm === "ed25519" ? member.ed25519PublicKey : member.mldsaPublicKey;
}

export function cosignatureKeyId(
  algorithm: CosignatureAlgorithm,
  name: string,
  publicKey: Uint8Array,
): number {
  return computeKeyId(name, concatBytes(ALGORITHMS[algorithm].type, publicKey));
}

export function checkTimestamp(timestamp: number): void {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError(`cosignature timestamp ${timestamp} is not POSIX seconds in 0..2^53 - 1`);
  }
}

/** The bytes that `algorithm` signs for the cosigner `name` at `timestamp`. */
export function cosignedMessage(
  algorithm: CosignatureAlgorithm,
  name: string,
  timestamp: number,
  checkpointText: string,
): Uint8Array {
  checkTimestamp(timestamp);
  const header =
    algorithm === "ed25519"
      ? `cosignature/v1\ntime ${timestamp}\n`
      : `${MLDSA65_COSIGNATURE_IDENTIFIER}\nname ${name}\ntime ${timestamp}\n`;
  return encodeUtf8(header + checkpointText);
}

export function encodeTimestampedSignature(timestamp: number, signature: Uint8Array): Uint8Array {
  checkTimestamp(timestamp);
  const bytes = new Uint8Array(TIMESTAMP_BYTES + signature.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(timestamp));
  bytes.set(signature, TIMESTAMP_BYTES);
  return bytes;
}

export interface TimestampedSignature {
  readonly timestamp: number;
  readonly signature: Uint8Array;
}

/** Splits a signature line's bytes (after the key ID), or says why they are not one. */
export function decodeTimestampedSignature(
  algorithm: CosignatureAlgorithm,
  bytes: Uint8Array,
): TimestampedSignature | string {
  const expected = TIMESTAMP_BYTES + ALGORITHMS[algorithm].signatureBytes;
  if (bytes.length !== expected) return `${bytes.length} bytes where ${expected} are due`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const timestamp = view.getBigUint64(0);
  if (timestamp > BigInt(MAX_COSIGNATURE_TIMESTAMP)) return `timestamp ${timestamp} is too large`;
  return { timestamp: Number(timestamp), signature: bytes.slice(TIMESTAMP_BYTES) };
}

function checkPublicKey(algorithm: CosignatureAlgorithm, publicKey: Uint8Array): void {
  const { label, publicKeyBytes } = ALGORITHMS[algorithm];
  if (publicKey.length !== publicKeyBytes) {
    throw new RangeError(
      `an ${label} public key is ${publicKeyBytes} bytes, not ${publicKey.length}`,
    );
  }
}

/** The verifier key (vkey) that names, identifies and holds a cosigner's public key. */
export function formatCosignerKey(
  algorithm: CosignatureAlgorithm,
  name: string,
  publicKey: Uint8Array,
): string {
  checkPublicKey(algorithm, publicKey);
  return formatVerifierKey(name, concatBytes(ALGORITHMS[algorithm].type, publicKey));
}

export interface CosignerKey {
  readonly name: string;
  readonly algorithm: CosignatureAlgorithm;
  readonly publicKey: Uint8Array;
}

/** A vkey of one of the two types, with its key ID checked against its derivation. */
export function parseCosignerKey(vkey: string): CosignerKey {
  const { name, keyId, typeAndPublicKey } = parseVerifierKey(vkey);
  for (const algorithm of COSIGNATURE_ALGORITHMS) {
    const { label, type, publicKeyBytes } = ALGORITHMS[algorithm];
    if (!equalBytes(typeAndPublicKey.subarray(0, type.length), type)) continue;
    const publicKey = typeAndPublicKey.slice(type.length);
    if (publicKey.length !== publicKeyBytes) {
      throw new NoteFormatError(
        `not a cosigner key: ${quote(name)}'s ${label} key is ${publicKey.length} bytes, not ${publicKeyBytes}`,
      );
    }
    if (computeKeyId(name, typeAndPublicKey) !== keyId) {
      throw new NoteFormatError(
        `not a cosigner key: ${quote(name)}'s key ID does not match its name and ${label} key`,
      );
    }
    return { name, algorithm, publicKey };
  }
  const typeByte = typeAndPublicKey[0]!.toString(16).padStart(2, "0");
  throw new NoteFormatError(
    `not a cosigner key: ${quote(name)}'s signature type 0x${typeByte} is neither 0x04 (Ed25519 cosignature) nor qmesh's ML-DSA-65`,
  );
}
