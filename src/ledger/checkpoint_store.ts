// The ledger's checkpoints, next to its tree in the same LMDB database and written in the same
// apply transactions: which sizes were sealed (and their roots, as this member computed them),
// each member's signed note for a sealed size, and the notes a quorum certified.
//
//   [0x04][size u64 BE]                  -> root hash      a sealed size (this member's root)
//   [0x05][size u64 BE][member u64 BE]   -> signed note     that member's checkpoint for the size
//   [0x06][size u64 BE]                  -> signed note     certified: a quorum signed one root
//   [0x07]"certified"                    -> size u64 BE     the latest certified size
import type { LedgerDb } from "./tree_store.ts";

const SEAL = 0x04;
const MEMBER_NOTE = 0x05;
const CERTIFIED = 0x06;
const LATEST_KEY = Uint8Array.of(0x07, ...new TextEncoder().encode("certified"));

const text = new TextDecoder();
const utf8 = new TextEncoder();

function sizeKey(prefix: number, size: number, member?: number): Uint8Array {
  const key = Buffer.alloc(member === undefined ? 9 : 17);
  key[0] = prefix;
  key.writeUInt32BE(Math.floor(size / 0x1_0000_0000), 1);
  key.writeUInt32BE(size >>> 0, 5);
  if (member !== undefined) {
    key.writeUInt32BE(Math.floor(member / 0x1_0000_0000), 9);
    key.writeUInt32BE(member >>> 0, 13);
  }
  return key;
}

function readU64(bytes: Uint8Array, at: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(at) * 0x1_0000_0000 + view.getUint32(at + 4);
}

export interface MemberNote {
  readonly member: number;
  readonly note: string;
}

export class CheckpointStore {
  constructor(private db: LedgerDb) {}

  rebind(db: LedgerDb): void {
    this.db = db;
  }

  recordSeal(size: number, root: Uint8Array): void {
    this.db.putSync(sizeKey(SEAL, size), root);
  }

  /** The largest sealed size, if any. */
  latestSealedSize(): number | undefined {
    for (const { key } of this.db.getRange({
      start: sizeKey(SEAL + 1, 0),
      end: sizeKey(SEAL, 0),
      reverse: true,
      limit: 1,
    })) {
      return readU64(key as Uint8Array, 1);
    }
    return undefined;
  }

  /** This member's root at a sealed size, or undefined if the size was never sealed. */
  sealedRoot(size: number): Uint8Array | undefined {
    const value = this.db.getBinary(sizeKey(SEAL, size));
    return value === undefined ? undefined : new Uint8Array(value);
  }

  recordMemberNote(size: number, member: number, note: string): void {
    this.db.putSync(sizeKey(MEMBER_NOTE, size, member), utf8.encode(note));
  }

  memberNotes(size: number): MemberNote[] {
    const notes: MemberNote[] = [];
    for (const { key, value } of this.db.getRange({
      start: sizeKey(MEMBER_NOTE, size, 0),
      end: sizeKey(MEMBER_NOTE, size + 1, 0),
    })) {
      notes.push({ member: readU64(key as Uint8Array, 9), note: text.decode(value) });
    }
    return notes;
  }

  certify(size: number, note: string): void {
    this.db.putSync(sizeKey(CERTIFIED, size), utf8.encode(note));
    const latest = this.latestCertifiedSize();
    if (latest === undefined || size > latest) {
      this.db.putSync(LATEST_KEY, sizeKey(0, size).subarray(1));
    }
  }

  certifiedNote(size: number): string | undefined {
    const value = this.db.getBinary(sizeKey(CERTIFIED, size));
    return value === undefined ? undefined : text.decode(value);
  }

  /** Every certified size, ascending, with its note. */
  *certified(): Generator<{ size: number; note: string }> {
    for (const { key, value } of this.db.getRange({
      start: sizeKey(CERTIFIED, 0),
      end: sizeKey(CERTIFIED + 1, 0),
    })) {
      yield { size: readU64(key as Uint8Array, 1), note: text.decode(value) };
    }
  }

  latestCertifiedSize(): number | undefined {
    const value = this.db.getBinary(LATEST_KEY);
    return value === undefined ? undefined : readU64(value, 0);
  }
}
