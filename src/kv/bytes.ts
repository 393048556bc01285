// Byte helpers and a tiny binary writer/reader shared by the command codec and the LMDB records.

export const EMPTY: Uint8Array = new Uint8Array(0);
const TWO_32 = 0x1_0000_0000;

/** The range end that selects every key starting with `prefix` (clientv3's GetPrefixRangeEnd):
 *  the prefix with its last byte below 0xff incremented; all 0xff gives "\0", to the end. */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      // A copy: Buffer's slice is a view, and the prefix must not change.
      const end = Uint8Array.from(prefix.subarray(0, i + 1));
      end[i]! += 1;
      return end;
    }
  }
  return Uint8Array.of(0);
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A plain Uint8Array copy: LMDB hands out Buffers that may be reused or compare unequal to Uint8Array. */
export function copyBytes(b: Uint8Array, start = 0, end = b.length): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(b.subarray(start, end));
  return out;
}

export function writeU64(buf: Uint8Array, off: number, n: number): void {
  const hi = Math.floor(n / TWO_32);
  const lo = n >>> 0;
  buf[off] = hi >>> 24;
  buf[off + 1] = hi >>> 16;
  buf[off + 2] = hi >>> 8;
  buf[off + 3] = hi;
  buf[off + 4] = lo >>> 24;
  buf[off + 5] = lo >>> 16;
  buf[off + 6] = lo >>> 8;
  buf[off + 7] = lo;
}

export function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

export function readU64(buf: Uint8Array, off: number): number {
  return readU32(buf, off) * TWO_32 + readU32(buf, off + 4);
}

export function writeU32(buf: Uint8Array, off: number, n: number): void {
  buf[off] = n >>> 24;
  buf[off + 1] = n >>> 16;
  buf[off + 2] = n >>> 8;
  buf[off + 3] = n;
}

export function u64Bytes(n: number): Uint8Array {
  const b = new Uint8Array(8);
  writeU64(b, 0, n);
  return b;
}

/** Growable buffer; LEB128 varints keep commands compact. */
export class ByteWriter {
  private buf = new Uint8Array(64);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(n: number): void {
    this.ensure(1);
    this.buf[this.pos++] = n;
  }

  varint(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new RangeError(`not a safe unsigned integer: ${n}`);
    this.ensure(8);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  u64(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new RangeError(`not a safe unsigned integer: ${n}`);
    this.ensure(8);
    writeU64(this.buf, this.pos, n);
    this.pos += 8;
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export class ByteReader {
  private pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly fail: (message: string) => Error,
  ) {}

  get done(): boolean {
    return this.pos === this.buf.length;
  }

  u8(): number {
    if (this.pos >= this.buf.length) throw this.fail("truncated");
    return this.buf[this.pos++]!;
  }

  varint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      n += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(n)) throw this.fail("varint out of range");
        return n;
      }
      scale *= 0x80;
    }
    throw this.fail("varint too long");
  }

  u64(): number {
    if (this.pos + 8 > this.buf.length) throw this.fail("truncated");
    const n = readU64(this.buf, this.pos);
    if (!Number.isSafeInteger(n)) throw this.fail("u64 out of safe integer range");
    this.pos += 8;
    return n;
  }

  bytes(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.buf.length) throw this.fail("truncated bytes");
    const out = copyBytes(this.buf, this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
}
