// What a rule sees: the CEL variables built from one write.
//
//   key        string  the key, decoded as UTF-8 (invalid bytes become U+FFFD)
//   key_bytes  bytes   the key exactly
//   value      map     the new value, or null for a delete:
//                        value.bytes   bytes   the value exactly
//                        value.string  string  decoded as UTF-8 (invalid bytes become U+FFFD)
//                        value.json    dyn     the parsed JSON, or null if the value is not
//                                              UTF-8 JSON (or nests deeper than 64 levels);
//                                              objects are maps, numbers are doubles (CEL's JSON
//                                              mapping: write 5.0 or int(value.json.n) + 1)
//                        value.size    int     the value's length in bytes
//   prev       map     the key's current value, same shape, or null if the key does not exist
//   lease      int     the lease the write attaches (0: none)
//   user       string  the authenticated user ("" when auth is off)
//   revision   int     the revision the write would get
//   op         string  "put" or "delete"

export interface WriteInput {
  readonly key: Uint8Array;
  /** The value the write would store; null for a delete. */
  readonly value: Uint8Array | null;
  /** The key's current value; null if the key does not exist. */
  readonly prev: Uint8Array | null;
  readonly lease: number;
  readonly user: string;
  readonly revision: number;
  readonly op: "put" | "delete";
}

/** Declared types for the type checker; "Value" is the {bytes, string, json, size} message. */
export const VARIABLE_TYPES = {
  key: "string",
  key_bytes: "bytes",
  value: "Value",
  prev: "Value",
  lease: "int",
  user: "string",
  revision: "int",
  op: "string",
} as const;

export const VALUE_FIELDS = { bytes: "bytes", string: "string", json: "dyn", size: "int" } as const;

/** Deeper JSON is treated as not JSON: converting and comparing it recurses, and a stack
 *  overflow would depend on each member's stack, not on the input. */
export const MAX_JSON_DEPTH = 64;

export interface Activation {
  readonly values: Readonly<Record<string, unknown>>;
}

const lossy = new TextDecoder("utf-8", { ignoreBOM: true });
const strict = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true });

class TooDeep extends Error {}

/** JSON as CEL values: objects become Maps, so no inherited property is ever visible. */
function fromJson(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== "object") return v;
  if (depth >= MAX_JSON_DEPTH) throw new TooDeep();
  if (Array.isArray(v)) return v.map((item) => fromJson(item, depth + 1));
  return new Map(Object.entries(v).map(([k, item]) => [k, fromJson(item, depth + 1)]));
}

/** Invalid UTF-8, invalid JSON and too-deep JSON are all "not JSON": null. */
function parseJson(bytes: Uint8Array): unknown {
  try {
    return fromJson(JSON.parse(strict.decode(bytes)), 0);
  } catch {
    return null;
  }
}

/** A plain Uint8Array: the CEL library tells bytes apart by constructor, and LMDB hands out Buffers. */
function plainBytes(b: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(b) === Uint8Array.prototype ? b : Uint8Array.from(b);
}

function valueVariable(bytes: Uint8Array | null): Map<string, unknown> | null {
  if (bytes === null) return null;
  return new Map<string, unknown>([
    ["bytes", plainBytes(bytes)],
    ["string", lossy.decode(bytes)],
    ["json", parseJson(bytes)],
    ["size", BigInt(bytes.length)],
  ]);
}

const cache = new WeakMap<WriteInput, Activation>();

/** The variables for input (cached per input object: several rules may check one write). */
export function activationFor(input: WriteInput): Activation {
  const cached = cache.get(input);
  if (cached !== undefined) return cached;
  const activation: Activation = {
    values: {
      key: lossy.decode(input.key),
      key_bytes: plainBytes(input.key),
      value: valueVariable(input.value),
      prev: valueVariable(input.prev),
      lease: BigInt(input.lease),
      user: input.user,
      revision: BigInt(input.revision),
      op: input.op,
    },
  };
  cache.set(input, activation);
  return activation;
}

/** The smallest write: what a rule costs at least, checked when the rule is set. */
export const EMPTY_WRITE: WriteInput = {
  key: new Uint8Array(0),
  value: new Uint8Array(0),
  prev: null,
  lease: 0,
  user: "",
  revision: 1,
  op: "put",
};
