// A rule on writes, its validation when it is set, and its stored encoding.
//
// Encoding (binary, canonical: one rule has exactly one encoding, so every member stores and
// hashes the same bytes): the magic "qmc" (qmesh contract), a format version byte (1), then
// name, prefix, expression and message, each as an unsigned LEB128 length and that many bytes
// (UTF-8 for the three texts). Decoding refuses anything else: another magic or version,
// non-minimal lengths, invalid UTF-8, trailing bytes, or fields that validation would refuse.
import { compileExpression, MAX_EXPRESSION_BYTES } from "./compile.ts";
import { RuleDecodeError, RuleValidationError } from "./errors.ts";

export interface Rule {
  /** Unique; rules are evaluated in name order. */
  readonly name: string;
  /** The rule applies to every key that starts with these bytes (empty: every key). */
  readonly prefix: Uint8Array;
  /** CEL; the write is allowed when it evaluates to true. */
  readonly expression: string;
  /** Shown to the client when the rule rejects a write. */
  readonly message: string;
}

export interface RuleSpec {
  readonly name: string;
  /** A string is taken as UTF-8. */
  readonly prefix: Uint8Array | string;
  readonly expression: string;
  readonly message: string;
}

export const MAX_NAME_LENGTH = 128;
/** Keys are at most 1,900 bytes in qmesh (kv/key_limits.ts), so longer prefixes match nothing. */
export const MAX_PREFIX_BYTES = 1_900;
export const MAX_MESSAGE_BYTES = 1024;

const NAME = /^[A-Za-z0-9._-]+$/;
const MAGIC = [0x71, 0x6d, 0x63]; // "qmc"
const FORMAT_VERSION = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Lone surrogates do not survive UTF-8, so a text with one would not round-trip. */
function isWellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/** Checks everything but the expression's meaning: names, lengths, encodable texts. */
export function checkRuleShape(rule: Rule): void {
  const { name, prefix, expression, message } = rule;
  if (typeof name !== "string" || name.length < 1 || name.length > MAX_NAME_LENGTH) {
    throw new RuleValidationError("name", `must be 1 to ${MAX_NAME_LENGTH} characters`);
  }
  if (!NAME.test(name)) {
    throw new RuleValidationError("name", `"${name}" may contain only A-Z a-z 0-9 . _ -`);
  }
  if (!(prefix instanceof Uint8Array)) throw new RuleValidationError("prefix", "must be bytes");
  if (prefix.length > MAX_PREFIX_BYTES) {
    throw new RuleValidationError(
      "prefix",
      `too long: ${prefix.length} bytes, over the limit of ${MAX_PREFIX_BYTES}`,
    );
  }
  if (typeof expression !== "string" || !isWellFormed(expression)) {
    throw new RuleValidationError("expression", "must be a well-formed string");
  }
  const expressionBytes = encoder.encode(expression).length;
  if (expressionBytes === 0 || expressionBytes > MAX_EXPRESSION_BYTES) {
    throw new RuleValidationError(
      "expression",
      `must be 1 to ${MAX_EXPRESSION_BYTES} bytes, not ${expressionBytes}`,
    );
  }
  if (typeof message !== "string" || !isWellFormed(message)) {
    throw new RuleValidationError("message", "must be a well-formed string");
  }
  const messageBytes = encoder.encode(message).length;
  if (messageBytes > MAX_MESSAGE_BYTES) {
    throw new RuleValidationError(
      "message",
      `too long: ${messageBytes} bytes, over the limit of ${MAX_MESSAGE_BYTES}`,
    );
  }
}

/** Validation at set time: the shape, and the expression compiles, type-checks and returns
 *  bool. Throws RuleValidationError. */
export function validateRule(rule: Rule): void {
  checkRuleShape(rule);
  compileExpression(rule.expression);
}

/** A validated rule from its parts (a string prefix is taken as UTF-8). */
export function createRule(spec: RuleSpec): Rule {
  const prefix = typeof spec.prefix === "string" ? encoder.encode(spec.prefix) : spec.prefix;
  const rule: Rule = {
    name: spec.name,
    prefix: prefix instanceof Uint8Array ? Uint8Array.from(prefix) : prefix,
    expression: spec.expression,
    message: spec.message,
  };
  validateRule(rule);
  return rule;
}

function pushLength(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
}

export function encodeRule(rule: Rule): Uint8Array {
  checkRuleShape(rule);
  const fields = [
    encoder.encode(rule.name),
    rule.prefix,
    encoder.encode(rule.expression),
    encoder.encode(rule.message),
  ];
  const head: number[] = [...MAGIC, FORMAT_VERSION];
  const parts: Uint8Array[] = [];
  for (const field of fields) {
    const length: number[] = [];
    pushLength(length, field.length);
    parts.push(Uint8Array.from(length), field);
  }
  const out = new Uint8Array(head.length + parts.reduce((n, p) => n + p.length, 0));
  out.set(head);
  let at = head.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

class Reader {
  private at = 0;
  constructor(private readonly b: Uint8Array) {}

  get done(): boolean {
    return this.at === this.b.length;
  }

  byte(what: string): number {
    if (this.at >= this.b.length) throw new RuleDecodeError(`truncated ${what}`);
    return this.b[this.at++]!;
  }

  /** A minimal LEB128 length (canonical: one encoding per number), at most 2^28. */
  length(what: string): number {
    let n = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      const byte = this.byte(`${what} length`);
      n |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) {
        if (byte === 0 && shift > 0) throw new RuleDecodeError(`non-canonical ${what} length`);
        return n;
      }
    }
    throw new RuleDecodeError(`${what} length too large`);
  }

  bytes(what: string): Uint8Array {
    const n = this.length(what);
    if (n > this.b.length - this.at) throw new RuleDecodeError(`truncated ${what}`);
    const out = this.b.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }

  text(what: string): string {
    try {
      return decoder.decode(this.bytes(what));
    } catch (e) {
      if (e instanceof RuleDecodeError) throw e;
      throw new RuleDecodeError(`${what} is not valid UTF-8`);
    }
  }
}

/** The rule stored as b; throws RuleDecodeError if b is not exactly an encoded valid rule. */
export function decodeRule(b: Uint8Array): Rule {
  if (!(b instanceof Uint8Array)) throw new RuleDecodeError("not bytes");
  const r = new Reader(b);
  for (const m of MAGIC) {
    if (r.byte("magic") !== m) throw new RuleDecodeError("not a rule (bad magic)");
  }
  const version = r.byte("version");
  if (version !== FORMAT_VERSION) throw new RuleDecodeError(`unknown format version ${version}`);
  const rule: Rule = {
    name: r.text("name"),
    prefix: r.bytes("prefix"),
    expression: r.text("expression"),
    message: r.text("message"),
  };
  if (!r.done) throw new RuleDecodeError("trailing bytes");
  try {
    checkRuleShape(rule);
  } catch (e) {
    throw new RuleDecodeError((e as Error).message);
  }
  return rule;
}
