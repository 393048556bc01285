// What a ConfChange means (etcd's ConfChangeV2.EnterJoint / LeaveJoint) and how it is stored
// in a log entry. The encoding is versioned because entries outlive the code that wrote them.
//
// Version 1 layout (varint: unsigned LEB128, canonical, at most 2^53 - 1):
//   u8 version = 1 | u8 transition | varint count | count × (u8 type, varint nodeId)
//   | varint contextLength | context bytes
import {
  type ConfChange,
  type ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
} from "../types.ts";
import { ConfChangeError } from "./confchange.ts";

const ENCODING_VERSION = 1;
/** Bytes of one change at least: its type and a one-byte id. */
const MIN_CHANGE_BYTES = 2;
const VARINT_MAX_BYTES = 8; // 8 × 7 bits cover 2^53 - 1

/**
 * Whether the change goes through a joint configuration, and if so whether that is left
 * automatically. Several changes always do (even when a simple change would be safe for the
 * current config: using joint consensus liberally keeps the rule independent of it).
 */
export function enterJointOf(change: ConfChange): { enter: boolean; autoLeave: boolean } {
  const enter = change.transition !== ConfChangeTransition.Auto || change.changes.length > 1;
  if (!enter) return { enter: false, autoLeave: false };
  return { enter, autoLeave: change.transition !== ConfChangeTransition.JointExplicit };
}

/** An empty change is the request to leave the joint configuration. */
export function isLeaveJoint(change: ConfChange): boolean {
  return change.changes.length === 0;
}

export function encodeConfChange(change: ConfChange): Uint8Array {
  checkTransition(change.transition);
  const bytes: number[] = [ENCODING_VERSION, change.transition];
  writeVarint(bytes, change.changes.length);
  for (const single of change.changes) {
    checkType(single.type);
    bytes.push(single.type);
    writeVarint(bytes, single.nodeId);
  }
  writeVarint(bytes, change.context.length);
  const encoded = new Uint8Array(bytes.length + change.context.length);
  encoded.set(bytes);
  encoded.set(change.context, bytes.length);
  return encoded;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const reader = new Reader(data);
  const version = reader.byte();
  if (version !== ENCODING_VERSION) {
    throw new ConfChangeError(`unsupported conf change encoding version ${version}`);
  }
  const transition = reader.byte();
  checkTransition(transition);
  const count = reader.varint();
  if (count * MIN_CHANGE_BYTES > reader.remaining()) reader.truncated();
  const changes: ConfChangeSingle[] = [];
  for (let i = 0; i < count; i++) {
    const type = reader.byte();
    checkType(type);
    changes.push({ type, nodeId: reader.varint() });
  }
  const context = reader.bytes(reader.varint());
  if (reader.remaining() > 0) {
    throw new ConfChangeError(`${reader.remaining()} trailing bytes after a conf change`);
  }
  return { transition, changes, context };
}

function checkTransition(transition: number): asserts transition is ConfChangeTransition {
  if (!(Object.values(ConfChangeTransition) as number[]).includes(transition)) {
    throw new ConfChangeError(`unknown conf change transition ${transition}`);
  }
}

function checkType(type: number): asserts type is ConfChangeType {
  if (!(Object.values(ConfChangeType) as number[]).includes(type)) {
    throw new ConfChangeError(`unknown conf change type ${type}`);
  }
}

/** Ids exceed 32 bits, so this uses arithmetic rather than bit operations. */
function writeVarint(bytes: number[], value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ConfChangeError(`cannot encode ${value}: not an integer in [0, 2^53)`);
  }
  while (value >= 0x80) {
    bytes.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  bytes.push(value);
}

class Reader {
  private offset = 0;

  constructor(private readonly data: Uint8Array) {}

  remaining(): number {
    return this.data.length - this.offset;
  }

  truncated(): never {
    throw new ConfChangeError(`truncated conf change (${this.data.length} bytes)`);
  }

  byte(): number {
    const value = this.data[this.offset];
    if (value === undefined) this.truncated();
    this.offset++;
    return value;
  }

  bytes(length: number): Uint8Array {
    if (length > this.remaining()) this.truncated();
    const slice = this.data.slice(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let length = 1; length <= VARINT_MAX_BYTES; length++) {
      const byte = this.byte();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        // One encoding per value: a final zero group would mean a longer form of a shorter one.
        if (byte === 0 && length > 1) throw new ConfChangeError("non-canonical varint");
        if (!Number.isSafeInteger(value)) break;
        return value;
      }
      scale *= 0x80;
    }
    throw new ConfChangeError("varint exceeds 2^53 - 1");
  }
}
