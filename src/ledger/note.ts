// C2SP signed-note (https://c2sp.org/signed-note, v1.0.0): a UTF-8 text ending in a newline, a
// blank line, then one or more lines "— <key name> <base64(key ID || signature)>". This file
// knows the format, key names, key IDs and verifier keys; what the bytes of a signature mean is
// up to its signature type (cosignature.ts). Nothing here imports node:, so browsers can verify.
import { sha256 } from "@noble/hashes/sha2.js";
import {
  concatBytes,
  decodeBase64,
  decodeUtf8,
  encodeBase64,
  encodeUtf8,
  equalBytes,
  isWellFormedText,
  quote,
} from "./encoding.ts";

/** Go's note.Open stops at 100 signatures; the spec requires accepting at least 16. */
export const MAX_NOTE_SIGNATURES = 100;
/** Room for 100 ML-DSA-65 signature lines (about 4.4 kB each) and a long text. */
export const MAX_NOTE_BYTES = 1 << 20;
export const KEY_ID_BYTES = 4;

/** An em dash (U+2014) and a space open every signature line. */
const SIGNATURE_PREFIX = "\u2014 ";

export class NoteFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NoteFormatError";
  }
}

export interface NoteSignature {
  /** The key name: non-empty, without Unicode spaces or "+". */
  readonly name: string;
  /** The uint32 that the first four bytes of the line's base64 hold, big-endian. */
  readonly keyId: number;
  /** The bytes after the key ID, as the signature type defines them. */
  readonly signature: Uint8Array;
}

export interface SignedNote {
  /** The signed text, with its final newline but not the blank line after it. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export interface ParseNoteOptions {
  readonly maxSignatures?: number;
  /** In bytes for a Uint8Array, in UTF-16 code units for a string. */
  readonly maxLength?: number;
}

/** Where the first ASCII control character other than a newline is, or -1. */
function findControlCharacter(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 && code !== 0x0a) return i;
  }
  return -1;
}

function lineNumberAt(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 0x0a) line++;
  return line;
}

/** Why `text` cannot be (part of) a note, or null: the rules common to text and signatures. */
function textProblem(text: string): string | null {
  if (!isWellFormedText(text)) return "it is not valid UTF-8 (a lone surrogate)";
  const control = findControlCharacter(text);
  if (control < 0) return null;
  const line = lineNumberAt(text, control);
  const code = text.charCodeAt(control);
  if (code === 0x0d) return `line ${line} ends in a carriage return (CRLF line endings)`;
  const hex = code.toString(16).toUpperCase().padStart(4, "0");
  return `line ${line} holds the control character U+${hex}`;
}

export function isValidKeyName(name: string): boolean {
  return (
    name.length > 0 &&
    !/[\p{White_Space}+]/u.test(name) &&
    findControlCharacter(name) < 0 &&
    isWellFormedText(name)
  );
}

/** SHA-256(key name || 0x0A || signature type || public key)[:4], as signed-note recommends. */
export function computeKeyId(name: string, typeAndPublicKey: Uint8Array): number {
  const digest = sha256(concatBytes(encodeUtf8(`${name}\n`), typeAndPublicKey));
  return ((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) >>> 0;
}

function isKeyId(keyId: number): boolean {
  return Number.isInteger(keyId) && keyId >= 0 && keyId <= 0xffffffff;
}

function keyIdBytes(keyId: number): Uint8Array {
  const bytes = new Uint8Array(KEY_ID_BYTES);
  new DataView(bytes.buffer).setUint32(0, keyId);
  return bytes;
}

export function formatSignatureLine(signature: NoteSignature): string {
  if (!isValidKeyName(signature.name)) {
    throw new NoteFormatError(`cannot sign as ${quote(signature.name)}: not a valid key name`);
  }
  if (!isKeyId(signature.keyId)) {
    throw new NoteFormatError(`key ID ${signature.keyId} is not a uint32`);
  }
  if (signature.signature.length === 0) throw new NoteFormatError("the signature is empty");
  const bytes = concatBytes(keyIdBytes(signature.keyId), signature.signature);
  return `${SIGNATURE_PREFIX}${signature.name} ${encodeBase64(bytes)}\n`;
}

/** A signed note: the text, a blank line, a line per signature. */
export function formatNote(note: SignedNote): string {
  if (!note.text.endsWith("\n")) {
    throw new NoteFormatError("cannot format a note: its text does not end in a newline");
  }
  const problem = textProblem(note.text);
  if (problem !== null) throw new NoteFormatError(`cannot format a note: in its text, ${problem}`);
  if (note.signatures.length === 0) {
    throw new NoteFormatError("cannot format a note without signatures");
  }
  if (note.signatures.length > MAX_NOTE_SIGNATURES) {
    throw new NoteFormatError(
      `cannot format a note with ${note.signatures.length} signatures, more than the limit of ${MAX_NOTE_SIGNATURES}`,
    );
  }
  return `${note.text}\n${note.signatures.map(formatSignatureLine).join("")}`;
}

function parseSignatureLine(line: string, ordinal: number): NoteSignature {
  const where = `signature line ${ordinal}`;
  if (!line.startsWith(SIGNATURE_PREFIX)) {
    throw new NoteFormatError(
      `not a signed note: ${where} does not start with "— " (U+2014 em dash, space): ${quote(line)}`,
    );
  }
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(" ");
  if (space < 0) throw new NoteFormatError(`not a signed note: ${where} has no signature`);
  const name = rest.slice(0, space);
  const encoded = rest.slice(space + 1);
  if (!isValidKeyName(name)) {
    throw new NoteFormatError(`not a signed note: ${where} has an invalid key name ${quote(name)}`);
  }
  const bytes = decodeBase64(encoded);
  if (bytes === null) {
    throw new NoteFormatError(`not a signed note: ${where}'s signature is not canonical base64`);
  }
  if (bytes.length <= KEY_ID_BYTES) {
    throw new NoteFormatError(
      `not a signed note: ${where}'s signature is ${bytes.length} bytes, too short for a key ID and a signature`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { name, keyId: view.getUint32(0), signature: bytes.slice(KEY_ID_BYTES) };
}

function noteTextOf(input: string | Uint8Array, maxLength: number): string {
  if (input.length > maxLength) {
    const unit = typeof input === "string" ? "characters" : "bytes";
    throw new NoteFormatError(
      `not a signed note: ${input.length} ${unit}, more than the limit of ${maxLength}`,
    );
  }
  if (typeof input === "string") return input;
  const text = decodeUtf8(input);
  if (text === null) throw new NoteFormatError("not a signed note: it is not valid UTF-8");
  return text;
}

/** Splits and checks a signed note; it verifies nothing (that needs keys: verify_checkpoint). */
export function parseNote(input: string | Uint8Array, options: ParseNoteOptions = {}): SignedNote {
  const maxSignatures = options.maxSignatures ?? MAX_NOTE_SIGNATURES;
  const note = noteTextOf(input, options.maxLength ?? MAX_NOTE_BYTES);
  const problem = textProblem(note);
  if (problem !== null) throw new NoteFormatError(`not a signed note: ${problem}`);
  // The text may hold blank lines itself: the last one separates it from the signatures.
  const split = note.lastIndexOf("\n\n");
  if (split < 0) {
    throw new NoteFormatError(
      "not a signed note: no blank line separates the text from the signatures",
    );
  }
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block.length === 0) throw new NoteFormatError("not a signed note: it has no signatures");
  if (!block.endsWith("\n")) {
    throw new NoteFormatError(
      "not a signed note: the last signature line does not end in a newline",
    );
  }
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > maxSignatures) {
    throw new NoteFormatError(
      `not a signed note: ${lines.length} signatures, more than the limit of ${maxSignatures}`,
    );
  }
  return { text, signatures: lines.map((line, i) => parseSignatureLine(line, i + 1)) };
}

function sameSignature(a: NoteSignature, b: NoteSignature): boolean {
  return a.name === b.name && a.keyId === b.keyId && equalBytes(a.signature, b.signature);
}

/** One note with the signatures of several notes over the same text, each signature once. */
export function combineNotes(notes: readonly (string | Uint8Array)[]): string {
  const parsed = notes.map((note) => parseNote(note));
  const first = parsed[0];
  if (first === undefined) throw new NoteFormatError("no notes to combine");
  const signatures: NoteSignature[] = [];
  for (const note of parsed) {
    if (note.text !== first.text) {
      throw new NoteFormatError("cannot combine notes whose texts differ");
    }
    for (const signature of note.signatures) {
      if (!signatures.some((seen) => sameSignature(seen, signature))) signatures.push(signature);
    }
  }
  return formatNote({ text: first.text, signatures });
}

/** A verifier key (vkey): "<key name>+<hex key ID>+<base64(signature type || public key)>". */
export interface VerifierKey {
  readonly name: string;
  readonly keyId: number;
  readonly typeAndPublicKey: Uint8Array;
}

export function formatVerifierKey(
  name: string,
  typeAndPublicKey: Uint8Array,
  keyId: number = computeKeyId(name, typeAndPublicKey),
): string {
  if (!isValidKeyName(name)) throw new NoteFormatError(`${quote(name)} is not a valid key name`);
  if (!isKeyId(keyId)) throw new NoteFormatError(`key ID ${keyId} is not a uint32`);
  if (typeAndPublicKey.length < 2)
    throw new NoteFormatError("a verifier key needs a type and a key");
  const hex = keyId.toString(16).padStart(8, "0");
  return `${name}+${hex}+${encodeBase64(typeAndPublicKey)}`;
}

/**
 * Splits a verifier key. The key ID is returned as written: signed-note only recommends how to
 * derive it (ECDSA keys use another rule), so the type's own layer checks it.
 */
export function parseVerifierKey(text: string): VerifierKey {
  // The name holds no "+", so the first two are the separators; the base64 may hold more.
  const first = text.indexOf("+");
  const second = first < 0 ? -1 : text.indexOf("+", first + 1);
  if (second < 0) {
    throw new NoteFormatError(`not a verifier key: ${quote(text)} is not name+keyid+key`);
  }
  const name = text.slice(0, first);
  const hex = text.slice(first + 1, second);
  const encoded = text.slice(second + 1);
  if (!isValidKeyName(name)) {
    throw new NoteFormatError(`not a verifier key: ${quote(name)} is not a valid key name`);
  }
  if (!/^[0-9a-f]{8}$/.test(hex)) {
    throw new NoteFormatError(
      `not a verifier key: key ID ${quote(hex)} is not 8 lowercase hex digits`,
    );
  }
  const typeAndPublicKey = decodeBase64(encoded);
  if (typeAndPublicKey === null || typeAndPublicKey.length < 2) {
    throw new NoteFormatError(
      "not a verifier key: the key is not the canonical base64 of a type and a public key",
    );
  }
  return { name, keyId: Number.parseInt(hex, 16), typeAndPublicKey };
}
