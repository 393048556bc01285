// A member's ledger keys, their storage form, and its signatures on checkpoints. A key is kept
// as its 32-byte seed (RFC 8032's private key for Ed25519, FIPS 204's ξ for ML-DSA-65), from
// which the rest derives; the stored vkeys are checked against the seeds when loaded, so a
// damaged file is refused rather than signing under a key nobody trusts. Signing is Node-only:
// Ed25519 through node:crypto (OpenSSL), ML-DSA-65 through @noble/post-quantum. The caller
// passes the time; there is no clock here. Verification is verify_checkpoint.ts, browser-safe.
import { createPrivateKey, createPublicKey, type KeyObject, randomBytes, sign } from "node:crypto";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { type Checkpoint, formatCheckpoint } from "./checkpoint.ts";
import {
  type CosignatureAlgorithm,
  cosignatureKeyId,
  cosignedMessage,
  encodeTimestampedSignature,
  formatCosignerKey,
  type TrustedMember,
} from "./cosignature.ts";
import { decodeBase64, encodeBase64, equalBytes, quote } from "./encoding.ts";
import { formatNote, isValidKeyName, type NoteSignature } from "./note.ts";
import { LedgerKeysError, parseRecord, publicKeyOf } from "./public_keys.ts";

export {
  decodePublicLedgerKeys,
  encodePublicLedgerKeys,
  LedgerKeysError,
} from "./public_keys.ts";

export const SEED_BYTES = 32;

export interface Ed25519LedgerKey {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
}

export interface MlDsa65LedgerKey {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  /** FIPS 204's expanded secret key (4,032 bytes), derived from the seed; never stored. */
  readonly secretKey: Uint8Array;
}

/** A member's signing keys: one key name, one or both algorithms. */
export interface LedgerKeys {
  readonly name: string;
  readonly ed25519?: Ed25519LedgerKey;
  readonly mldsa?: MlDsa65LedgerKey;
}

export interface LedgerKeyChoice {
  readonly ed25519?: boolean;
  readonly mldsa?: boolean;
}

export interface LedgerKeySeeds {
  readonly ed25519?: Uint8Array;
  readonly mldsa?: Uint8Array;
}

/** PKCS #8 for an Ed25519 private key (RFC 8410), up to the 32 seed bytes that end it. */
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** OpenSSL's parsed key per seed: parsing PKCS #8 costs more than signing a checkpoint. */
const ed25519KeyObjects = new WeakMap<Uint8Array, KeyObject>();

function ed25519PrivateKey(seed: Uint8Array): KeyObject {
  let key = ed25519KeyObjects.get(seed);
  if (key === undefined) {
    const der = Buffer.concat([ED25519_PKCS8_PREFIX, seed]);
    key = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
    ed25519KeyObjects.set(seed, key);
  }
  return key;
}

function checkSeed(what: string, seed: Uint8Array): void {
  if (seed.length !== SEED_BYTES) {
    throw new LedgerKeysError(`${what} seed is ${seed.length} bytes, not ${SEED_BYTES}`);
  }
}

function ed25519FromSeed(seed: Uint8Array): Ed25519LedgerKey {
  checkSeed("the Ed25519", seed);
  const spki = createPublicKey(ed25519PrivateKey(seed)).export({ type: "spki", format: "der" });
  // The SubjectPublicKeyInfo ends with the 32-byte key.
  return { seed, publicKey: new Uint8Array(spki.subarray(spki.length - 32)) };
}

function mldsaFromSeed(seed: Uint8Array): MlDsa65LedgerKey {
  checkSeed("the ML-DSA-65", seed);
  const { publicKey, secretKey } = ml_dsa65.keygen(seed);
  return { seed, publicKey, secretKey };
}

/** The keys that `seeds` determine: the same seeds give the same keys. */
export function ledgerKeysFromSeeds(name: string, seeds: LedgerKeySeeds): LedgerKeys {
  if (!isValidKeyName(name)) {
    throw new LedgerKeysError(`${quote(name)} is not a key name (non-empty, no spaces, no "+")`);
  }
  if (seeds.ed25519 === undefined && seeds.mldsa === undefined) {
    throw new LedgerKeysError("a member needs at least one ledger key");
  }
  return {
    name,
    ...(seeds.ed25519 !== undefined && { ed25519: ed25519FromSeed(seeds.ed25519) }),
    ...(seeds.mldsa !== undefined && { mldsa: mldsaFromSeed(seeds.mldsa) }),
  };
}

/** Fresh keys for a member, both algorithms unless told otherwise. */
export function generateLedgerKeys(name: string, choice: LedgerKeyChoice = {}): LedgerKeys {
  const { ed25519 = true, mldsa = true } = choice;
  const freshSeed = () => new Uint8Array(randomBytes(SEED_BYTES));
  return ledgerKeysFromSeeds(name, {
    ...(ed25519 && { ed25519: freshSeed() }),
    ...(mldsa && { mldsa: freshSeed() }),
  });
}

/** What others need to verify this member's signatures. */
export function publicLedgerKeys(keys: LedgerKeys): TrustedMember {
  return {
    name: keys.name,
    ...(keys.ed25519 !== undefined && { ed25519PublicKey: keys.ed25519.publicKey }),
    ...(keys.mldsa !== undefined && { mldsaPublicKey: keys.mldsa.publicKey }),
  };
}

/** Signs an ML-DSA-65 message with a secret key: inline, or elsewhere (a worker thread). */
export type MlDsaSign = (message: Uint8Array, secretKey: Uint8Array) => Uint8Array;
export type MlDsaSignAsync = (message: Uint8Array, secretKey: Uint8Array) => Promise<Uint8Array>;

// Hedged signing (FIPS 204's default): fresh randomness mixed with the key.
const signInline: MlDsaSign = (message, secretKey) => ml_dsa65.sign(message, secretKey);

/** This member's signature lines on `checkpoint`, Ed25519 first (the cheaper to verify). */
export function cosignCheckpoint(
  keys: LedgerKeys,
  checkpoint: Checkpoint,
  timestamp: number,
): NoteSignature[] {
  const text = formatCheckpoint(checkpoint);
  const signatures = ed25519Lines(keys, timestamp, text);
  if (keys.mldsa !== undefined) {
    const message = cosignedMessage("ml-dsa-65", keys.name, timestamp, text);
    signatures.push(mldsaLine(keys, timestamp, signInline(message, keys.mldsa.secretKey)));
  }
  return signatures;
}

/** The checkpoint as a signed note carrying this member's signatures (combineNotes joins them). */
export function signCheckpoint(
  keys: LedgerKeys,
  checkpoint: Checkpoint,
  timestamp: number,
): string {
  const signatures = cosignCheckpoint(keys, checkpoint, timestamp);
  return formatNote({ text: formatCheckpoint(checkpoint), signatures });
}

/** signCheckpoint with the ML-DSA-65 signature made by `signMlDsa` (~10 ms: off the loop). */
export async function signCheckpointWith(
  keys: LedgerKeys,
  checkpoint: Checkpoint,
  timestamp: number,
  signMlDsa: MlDsaSignAsync,
): Promise<string> {
  const text = formatCheckpoint(checkpoint);
  const signatures = ed25519Lines(keys, timestamp, text);
  if (keys.mldsa !== undefined) {
    const message = cosignedMessage("ml-dsa-65", keys.name, timestamp, text);
    signatures.push(mldsaLine(keys, timestamp, await signMlDsa(message, keys.mldsa.secretKey)));
  }
  return formatNote({ text, signatures });
}

function ed25519Lines(keys: LedgerKeys, timestamp: number, text: string): NoteSignature[] {
  if (keys.ed25519 === undefined) return [];
  const message = cosignedMessage("ed25519", keys.name, timestamp, text);
  const signature = sign(null, message, ed25519PrivateKey(keys.ed25519.seed));
  return [
    {
      name: keys.name,
      keyId: cosignatureKeyId("ed25519", keys.name, keys.ed25519.publicKey),
      signature: encodeTimestampedSignature(timestamp, signature),
    },
  ];
}

function mldsaLine(keys: LedgerKeys, timestamp: number, signature: Uint8Array): NoteSignature {
  return {
    name: keys.name,
    keyId: cosignatureKeyId("ml-dsa-65", keys.name, keys.mldsa!.publicKey),
    signature: encodeTimestampedSignature(timestamp, signature),
  };
}

const SECRET_FORMAT = "qmesh-ledger-keys/v1";

/** The key file's text (secret: the caller writes it with mode 0600). */
export function encodeLedgerKeys(keys: LedgerKeys): string {
  const stored = (key: Ed25519LedgerKey | MlDsa65LedgerKey, algorithm: CosignatureAlgorithm) => ({
    seed: encodeBase64(key.seed),
    vkey: formatCosignerKey(algorithm, keys.name, key.publicKey),
  });
  const record = {
    format: SECRET_FORMAT,
    name: keys.name,
    ...(keys.ed25519 !== undefined && { ed25519: stored(keys.ed25519, "ed25519") }),
    ...(keys.mldsa !== undefined && { "ml-dsa-65": stored(keys.mldsa, "ml-dsa-65") }),
  };
  return `${JSON.stringify(record, null, 2)}\n`;
}

/** The seed and vkey stored for `algorithm`, if the file has that algorithm. */
function storedSeed(record: Record<string, unknown>, algorithm: CosignatureAlgorithm) {
  const entry = record[algorithm];
  if (entry === undefined) return undefined;
  if (typeof entry !== "object" || entry === null) {
    throw new LedgerKeysError(`ledger keys: ${algorithm} is not an object`);
  }
  const { seed, vkey } = entry as Record<string, unknown>;
  const bytes = typeof seed === "string" ? decodeBase64(seed) : null;
  if (bytes === null || bytes.length !== SEED_BYTES) {
    throw new LedgerKeysError(
      `ledger keys: ${algorithm}.seed is not the base64 of ${SEED_BYTES} bytes`,
    );
  }
  return { seed: bytes, publicKey: publicKeyOf(vkey, record.name as string, algorithm) };
}

/** Reads a key file, refusing one whose public keys do not derive from its seeds. */
export function decodeLedgerKeys(json: string): LedgerKeys {
  const record = parseRecord(json, SECRET_FORMAT);
  const ed25519 = storedSeed(record, "ed25519");
  const mldsa = storedSeed(record, "ml-dsa-65");
  const keys = ledgerKeysFromSeeds(record.name as string, {
    ...(ed25519 !== undefined && { ed25519: ed25519.seed }),
    ...(mldsa !== undefined && { mldsa: mldsa.seed }),
  });
  if (ed25519 !== undefined && !equalBytes(ed25519.publicKey, keys.ed25519!.publicKey)) {
    throw new LedgerKeysError("ledger keys: the stored Ed25519 vkey does not match its seed");
  }
  if (mldsa !== undefined && !equalBytes(mldsa.publicKey, keys.mldsa!.publicKey)) {
    throw new LedgerKeysError("ledger keys: the stored ML-DSA-65 vkey does not match its seed");
  }
  return keys;
}
