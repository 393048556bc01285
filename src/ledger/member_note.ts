// Checking one member's signed checkpoint where it is applied: synchronously, inside the apply
// batch's transaction (node:crypto for Ed25519, noble for ML-DSA-65). The result is part of the
// replicated state, so it depends on nothing but the note and the member's registered keys:
// every member reaches the same verdict. Clients use verify_checkpoint.ts instead (async,
// browser-safe).
import { createPublicKey, verify } from "node:crypto";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { type Checkpoint, parseCheckpoint } from "./checkpoint.ts";
import {
  COSIGNATURE_ALGORITHMS,
  cosignatureKeyId,
  cosignedMessage,
  decodeTimestampedSignature,
  memberPublicKey,
  type TrustedMember,
} from "./cosignature.ts";
import { type NoteSignature, parseNote } from "./note.ts";

const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export interface MemberCheckpoint {
  readonly checkpoint: Checkpoint;
  /** The checkpoint's text, as signed. */
  readonly text: string;
  /** This member's signature lines, each verified. */
  readonly signatures: readonly NoteSignature[];
}

/**
 * The checkpoint `noteText` carries, if `member` signed it with every key it has registered;
 * otherwise why not (a string). Lines by other keys are ignored.
 */
export function checkMemberNote(
  noteText: string,
  member: TrustedMember,
): MemberCheckpoint | string {
  let note: ReturnType<typeof parseNote>;
  let checkpoint: Checkpoint;
  try {
    note = parseNote(noteText);
    checkpoint = parseCheckpoint(note.text);
  } catch (error) {
    return (error as Error).message;
  }
  const signatures: NoteSignature[] = [];
  for (const algorithm of COSIGNATURE_ALGORITHMS) {
    const key = memberPublicKey(member, algorithm);
    if (key === undefined) continue;
    const keyId = cosignatureKeyId(algorithm, member.name, key);
    const line = note.signatures.find((s) => s.name === member.name && s.keyId === keyId);
    if (line === undefined) return `no ${algorithm} signature by ${member.name}`;
    const decoded = decodeTimestampedSignature(algorithm, line.signature);
    if (typeof decoded === "string") return `${algorithm} signature by ${member.name}: ${decoded}`;
    const message = cosignedMessage(algorithm, member.name, decoded.timestamp, note.text);
    const good =
      algorithm === "ed25519"
        ? verify(null, message, ed25519PublicKey(key), decoded.signature)
        : ml_dsa65.verify(decoded.signature, message, key);
    if (!good) return `${algorithm} signature by ${member.name} does not verify`;
    signatures.push(line);
  }
  if (signatures.length === 0) return `${member.name} has no registered ledger keys`;
  return { checkpoint, text: note.text, signatures };
}

function ed25519PublicKey(raw: Uint8Array) {
  return createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, raw]),
    format: "der",
    type: "spki",
  });
}
