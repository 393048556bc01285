// Varints and fixed-width ints over a Buffer. Writers are sized exactly up front (callers
// compute the size first) so encoding never reallocates or copies.
import { FrameDecodeError } from "./errors.ts";

/** Bytes of the LEB128 encoding of a safe non-negative integer. */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

export function bytesSize(bytes: Uint8Array): number {
  return varintSize(bytes.length) + bytes.length;
}

export class ByteWriter {
  offset: number;
  constructor(
    readonly buf: Buffer,
    offset = 0,
  ) {
    this.offset = offset;
  }

  u8(value: number): void {
    this.buf[this.offset++] = value;
  }

  u16(value: number): void {
    this.buf.writeUInt16BE(value, this.offset);
    this.offset += 2;
  }

  u32(value: number): void {
    this.buf.writeUInt32BE(value, this.offset);
    this.offset += 4;
  }

  f64(value: number): void {
    this.buf.writeDoubleBE(value, this.offset);
    this.offset += 8;
  }

  /** Only safe non-negative integers: terms, indexes and ids never go below zero. */
  varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`cannot encode ${value}: not a safe non-negative integer`);
    }
    // Division instead of shifts: bitwise operators truncate to 32 bits.
    while (value >= 128) {
      this.buf[this.offset++] = (value % 128) | 128;
      value = Math.floor(value / 128);
    }
    this.buf[this.offset++] = value;
  }

  bytes(bytes: Uint8Array): void {
    this.varint(bytes.length);
    this.buf.set(bytes, this.offset);
    this.offset += bytes.length;
  }

  raw(bytes: Uint8Array): void {
    this.buf.set(bytes, this.offset);
    this.offset += bytes.length;
  }
}

export class ByteReader {
  offset = 0;
  private readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  private need(n: number, what: string): void {
    if (this.offset + n > this.buf.length) {
      throw new FrameDecodeError(
        `truncated input: ${what} needs ${n} bytes at offset ${this.offset}`,
      );
    }
  }

  u8(what = "u8"): number {
    this.need(1, what);
    return this.buf[this.offset++]!;
  }

  u16(what = "u16"): number {
    this.need(2, what);
    const value = this.view.getUint16(this.offset);
    this.offset += 2;
    return value;
  }

  u32(what = "u32"): number {
    this.need(4, what);
    const value = this.view.getUint32(this.offset);
    this.offset += 4;
    return value;
  }

  f64(what = "f64"): number {
    this.need(8, what);
    const value = this.view.getFloat64(this.offset);
    this.offset += 8;
    return value;
  }

  varint(what = "varint"): number {
    let value = 0;
    let scale = 1;
    // 8 groups of 7 bits cover 2^53; anything longer is not a number we wrote.
    for (let i = 0; i < 8; i++) {
      this.need(1, what);
      const byte = this.buf[this.offset++]!;
      value += (byte & 127) * scale;
      if (byte < 128) {
        if (!Number.isSafeInteger(value)) throw new FrameDecodeError(`${what} exceeds 2^53`);
        return value;
      }
      scale *= 128;
    }
    throw new FrameDecodeError(`${what}: varint longer than 8 bytes at offset ${this.offset}`);
  }

  /** A view into the input, not a copy: it keeps the input buffer alive. */
  bytes(what = "bytes"): Uint8Array {
    const length = this.varint(`${what} length`);
    this.need(length, what);
    const view = this.buf.subarray(this.offset, this.offset + length);
    this.offset += length;
    return view;
  }

  string(what = "string"): string {
    const bytes = this.bytes(what);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  }

  rest(): Uint8Array {
    const view = this.buf.subarray(this.offset);
    this.offset = this.buf.length;
    return view;
  }

  end(what: string): void {
    if (this.offset !== this.buf.length) {
      throw new FrameDecodeError(`${this.remaining} trailing bytes after ${what}`);
    }
  }
}
