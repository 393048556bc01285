// Checking one member's signed checkpoint where it is applied: synchronously, inside the apply
// batch's transaction (node:crypto for Ed25519, noble for ML-DSA-65). The result is part of the
// replicated state, so it depends on nothing but the note and the member's registered keys:
// every member reaches the same verdict. Clients use verify_checkpoint.ts instead (async,
// browser-safe).
import { createHash, createPublicKey, type KeyObject, verify } from "node:crypto";
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

/** One ML-DSA-65 verification a note needs: by whom, over what. */
export interface MlDsaCheck {
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
}

const MAX_VERDICTS = 256;

/**
 * ML-DSA-65 verdicts reached ahead of apply (on a worker thread, when a member announces its
 * note): apply finds the verdict here instead of spending ~3 ms of its batch on it. A verdict is
 * a pure function of key, message and signature, so one reached elsewhere is the one apply would
 * reach; a missing one is computed at apply as before.
 */
export class MlDsaVerdicts {
  private readonly verdicts = new Map<string, boolean>();

  remember(check: MlDsaCheck, valid: boolean): void {
    if (this.verdicts.size >= MAX_VERDICTS) {
      this.verdicts.delete(this.verdicts.keys().next().value!);
    }
    this.verdicts.set(verdictKey(check), valid);
  }

  lookup(check: MlDsaCheck): boolean | undefined {
    return this.verdicts.get(verdictKey(check));
  }
}

function verdictKey({ publicKey, message, signature }: MlDsaCheck): string {
  const h = createHash("sha256");
  for (const part of [publicKey, message, signature]) {
    h.update(Uint8Array.of(part.length >>> 24, part.length >>> 16, part.length >>> 8, part.length));
    h.update(part);
  }
  return h.digest("base64");
}

/**
 * The ML-DSA-65 verifications checkMemberNote would make for `noteText` by each of `members`
 * (whose registered ML-DSA key signed a line of it); malformed notes need none.
 */
export function mlDsaChecks(noteText: string, members: readonly TrustedMember[]): MlDsaCheck[] {
  let note: ReturnType<typeof parseNote>;
  try {
    note = parseNote(noteText);
  } catch {
    return [];
  }
  const checks: MlDsaCheck[] = [];
  for (const member of members) {
    const line = mlDsaLine(note, member);
    if (line !== null) checks.push(line);
  }
  return checks;
}

function mlDsaLine(note: ReturnType<typeof parseNote>, member: TrustedMember): MlDsaCheck | null {
  const key = memberPublicKey(member, "ml-dsa-65");
  if (key === undefined) return null;
  const keyId = cosignatureKeyId("ml-dsa-65", member.name, key);
  const line = note.signatures.find((s) => s.name === member.name && s.keyId === keyId);
  if (line === undefined) return null;
  const decoded = decodeTimestampedSignature("ml-dsa-65", line.signature);
  if (typeof decoded === "string") return null;
  const message = cosignedMessage("ml-dsa-65", member.name, decoded.timestamp, note.text);
  return { publicKey: key, message, signature: decoded.signature };
}

/**
 * The checkpoint `noteText` carries, if `member` signed it with every key it has registered;
 * otherwise why not (a string). Lines by other keys are ignored. ML-DSA-65 verdicts found in
 * `verdicts` are used as they are.
 */
export function checkMemberNote(
  noteText: string,
  member: TrustedMember,
  verdicts?: MlDsaVerdicts,
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
        : (verdicts?.lookup({ publicKey: key, message, signature: decoded.signature }) ??
          ml_dsa65.verify(decoded.signature, message, key));
    if (!good) return `${algorithm} signature by ${member.name} does not verify`;
    signatures.push(line);
  }
  if (signatures.length === 0) return `${member.name} has no registered ledger keys`;
  return { checkpoint, text: note.text, signatures };
}

/** Key objects of the members' Ed25519 keys: making one costs more than the verification. */
const ed25519Keys = new Map<string, KeyObject>();

function ed25519PublicKey(raw: Uint8Array): KeyObject {
  const id = Buffer.from(raw).toString("base64");
  let key = ed25519Keys.get(id);
  if (key === undefined) {
    key = createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, raw]),
      format: "der",
      type: "spki",
    });
    if (ed25519Keys.size >= 64) ed25519Keys.clear();
    ed25519Keys.set(id, key);
  }
  return key;
}
