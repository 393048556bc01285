// Binary encoding of Raft message batches: the payload of a "messages" frame.
//
// batch   := varint count, message*
// message := u8 type, u8 flags (1 reject, 2 snapshot), varint to from term logTerm index commit
//            rejectHint, bytes context, varint entryCount, entry*, [snapshot]
// entry   := varint term index, u8 type, bytes data
// snapshot:= varint index term, u8 autoLeave, ids voters votersOutgoing learners learnersNext,
//            bytes data
// ids     := varint count, varint id*
// bytes   := varint length, raw bytes
// All integers are safe non-negative integers (LEB128 varints, 1 to 8 bytes).
import type { ConfState, Entry, Message, MessageType, Snapshot } from "../raft/index.ts";
import { ByteReader, ByteWriter, bytesSize, varintSize } from "./bytes.ts";
import { FrameDecodeError } from "./errors.ts";

const FLAG_REJECT = 1;
const FLAG_SNAPSHOT = 2;
const MAX_MESSAGE_TYPE = 18;
/** The smallest encoded message: two tag bytes, seven varints, empty context, no entries. */
const MIN_MESSAGE_BYTES = 11;
const MIN_ENTRY_BYTES = 4;

function idsSize(ids: readonly number[]): number {
  let size = varintSize(ids.length);
  for (const id of ids) size += varintSize(id);
  return size;
}

function snapshotSize(snapshot: Snapshot): number {
  const { index, term, confState: cs } = snapshot.metadata;
  return (
    varintSize(index) +
    varintSize(term) +
    1 +
    idsSize(cs.voters) +
    idsSize(cs.votersOutgoing) +
    idsSize(cs.learners) +
    idsSize(cs.learnersNext) +
    bytesSize(snapshot.data)
  );
}

/** Exact encoded size of one message. */
export function messageSize(m: Message): number {
  let size =
    2 +
    varintSize(m.to) +
    varintSize(m.from) +
    varintSize(m.term) +
    varintSize(m.logTerm) +
    varintSize(m.index) +
    varintSize(m.commit) +
    varintSize(m.rejectHint) +
    bytesSize(m.context) +
    varintSize(m.entries.length);
  for (const e of m.entries)
    size += varintSize(e.term) + varintSize(e.index) + 1 + bytesSize(e.data);
  if (m.snapshot !== null) size += snapshotSize(m.snapshot);
  return size;
}

/** Exact encoded size of a batch; lets a caller reserve a frame header in front of it. */
export function messagesSize(messages: readonly Message[]): number {
  let size = varintSize(messages.length);
  for (const m of messages) size += messageSize(m);
  return size;
}

function writeIds(w: ByteWriter, ids: readonly number[]): void {
  w.varint(ids.length);
  for (const id of ids) w.varint(id);
}

function writeMessage(w: ByteWriter, m: Message): void {
  w.u8(m.type);
  w.u8((m.reject ? FLAG_REJECT : 0) | (m.snapshot !== null ? FLAG_SNAPSHOT : 0));
  w.varint(m.to);
  w.varint(m.from);
  w.varint(m.term);
  w.varint(m.logTerm);
  w.varint(m.index);
  w.varint(m.commit);
  w.varint(m.rejectHint);
  w.bytes(m.context);
  w.varint(m.entries.length);
  for (const e of m.entries) {
    w.varint(e.term);
    w.varint(e.index);
    w.u8(e.type);
    w.bytes(e.data);
  }
  const s = m.snapshot;
  if (s !== null) {
    const cs = s.metadata.confState;
    w.varint(s.metadata.index);
    w.varint(s.metadata.term);
    w.u8(cs.autoLeave ? 1 : 0);
    writeIds(w, cs.voters);
    writeIds(w, cs.votersOutgoing);
    writeIds(w, cs.learners);
    writeIds(w, cs.learnersNext);
    w.bytes(s.data);
  }
}

/** Writes the batch at `offset` of `buf`, which must have `messagesSize(messages)` bytes free. */
export function writeMessages(messages: readonly Message[], buf: Buffer, offset: number): number {
  const w = new ByteWriter(buf, offset);
  w.varint(messages.length);
  for (const m of messages) writeMessage(w, m);
  return w.offset;
}

export function encodeMessages(messages: readonly Message[]): Buffer {
  const buf = Buffer.allocUnsafe(messagesSize(messages));
  const end = writeMessages(messages, buf, 0);
  if (end !== buf.length) throw new Error(`codec size mismatch: wrote ${end} of ${buf.length}`);
  return buf;
}

function readIds(r: ByteReader, what: string): number[] {
  const count = r.varint(`${what} count`);
  if (count > r.remaining)
    throw new FrameDecodeError(`${what}: ${count} ids in ${r.remaining} bytes`);
  const ids = new Array<number>(count);
  for (let i = 0; i < count; i++) ids[i] = r.varint(what);
  return ids;
}

function readSnapshot(r: ByteReader): Snapshot {
  const index = r.varint("snapshot index");
  const term = r.varint("snapshot term");
  const autoLeave = r.u8("autoLeave");
  if (autoLeave > 1) throw new FrameDecodeError(`bad autoLeave flag ${autoLeave}`);
  const confState: ConfState = {
    voters: readIds(r, "voters"),
    votersOutgoing: readIds(r, "votersOutgoing"),
    learners: readIds(r, "learners"),
    learnersNext: readIds(r, "learnersNext"),
    autoLeave: autoLeave === 1,
  };
  return { metadata: { index, term, confState }, data: r.bytes("snapshot data") };
}

function readEntries(r: ByteReader): Entry[] {
  const count = r.varint("entry count");
  if (count * MIN_ENTRY_BYTES > r.remaining) {
    throw new FrameDecodeError(`${count} entries cannot fit in ${r.remaining} bytes`);
  }
  const entries = new Array<Entry>(count);
  for (let i = 0; i < count; i++) {
    const term = r.varint("entry term");
    const index = r.varint("entry index");
    const type = r.u8("entry type");
    if (type > 1) throw new FrameDecodeError(`unknown entry type ${type}`);
    entries[i] = { term, index, type: type as Entry["type"], data: r.bytes("entry data") };
  }
  return entries;
}

function readMessage(r: ByteReader): Message {
  const type = r.u8("message type");
  if (type > MAX_MESSAGE_TYPE) throw new FrameDecodeError(`unknown message type ${type}`);
  const flags = r.u8("message flags");
  if ((flags & ~(FLAG_REJECT | FLAG_SNAPSHOT)) !== 0) {
    throw new FrameDecodeError(`unknown message flags ${flags}`);
  }
  const to = r.varint("to");
  const from = r.varint("from");
  const term = r.varint("term");
  const logTerm = r.varint("logTerm");
  const index = r.varint("index");
  const commit = r.varint("commit");
  const rejectHint = r.varint("rejectHint");
  const context = r.bytes("context");
  const entries = readEntries(r);
  const snapshot = (flags & FLAG_SNAPSHOT) !== 0 ? readSnapshot(r) : null;
  return {
    type: type as MessageType,
    to,
    from,
    term,
    logTerm,
    index,
    entries,
    commit,
    snapshot,
    reject: (flags & FLAG_REJECT) !== 0,
    rejectHint,
    context,
  };
}

/** Decodes a batch. Byte fields are views into `buf`, so keep `buf` unmodified while they live. */
export function decodeMessages(buf: Uint8Array): Message[] {
  const r = new ByteReader(buf);
  const count = r.varint("message count");
  if (count * MIN_MESSAGE_BYTES > r.remaining) {
    throw new FrameDecodeError(`${count} messages cannot fit in ${r.remaining} bytes`);
  }
  const messages = new Array<Message>(count);
  for (let i = 0; i < count; i++) messages[i] = readMessage(r);
  r.end("message batch");
  return messages;
}
