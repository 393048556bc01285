// etcd's JSON gateway encoding: bytes as base64, 64-bit integers as decimal strings, snake_case
// names, zero values omitted. Requests may give integers as numbers or strings.
import type {
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeCommand,
  KeyValue,
  OpResponse,
  PutCommand,
  RangeOp,
  RequestOp,
  SortOrder,
  SortTarget,
  TxnCommand,
} from "../kv/index.ts";

export class BadRequestError extends Error {
  override name = "BadRequestError";
}

export type Json = Record<string, unknown>;

export function bytesField(body: Json, name: string, required = false): Uint8Array {
  const value = body[name];
  if (value === undefined || value === null || value === "") {
    if (required) throw new BadRequestError(`"${name}" is required (base64 bytes)`);
    return new Uint8Array(0);
  }
  if (typeof value !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) {
    throw new BadRequestError(`"${name}" must be base64 text`);
  }
  return Buffer.from(value, "base64");
}

export function intField(body: Json, name: string, min = 0): number {
  const value = body[name];
  if (value === undefined || value === null || value === "") return 0;
  const number = typeof value === "string" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isSafeInteger(number) || number < min) {
    throw new BadRequestError(
      `"${name}" must be an integer >= ${min}, got ${JSON.stringify(value)}`,
    );
  }
  return number;
}

export function boolField(body: Json, name: string): boolean {
  const value = body[name];
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw new BadRequestError(`"${name}" must be true or false`);
  return value;
}

function enumField<T extends string>(
  body: Json,
  name: string,
  values: Record<string, T>,
  fallback: T,
): T {
  const value = body[name];
  if (value === undefined || value === null) return fallback;
  const key = typeof value === "number" ? Object.keys(values)[value] : String(value);
  const found = key === undefined ? undefined : values[key.toUpperCase()];
  if (found === undefined) {
    throw new BadRequestError(`"${name}" must be one of ${Object.keys(values).join(", ")}`);
  }
  return found;
}

const SORT_ORDERS: Record<string, SortOrder> = {
  NONE: "none",
  ASCEND: "ascend",
  DESCEND: "descend",
};
const SORT_TARGETS: Record<string, SortTarget> = {
  KEY: "key",
  VERSION: "version",
  CREATE: "create",
  MOD: "mod",
  VALUE: "value",
};
const COMPARE_RESULTS: Record<string, CompareResult> = {
  EQUAL: "equal",
  GREATER: "greater",
  LESS: "less",
  NOT_EQUAL: "not_equal",
};
const COMPARE_TARGETS: Record<string, CompareTarget> = {
  VERSION: "version",
  CREATE: "create",
  MOD: "mod",
  VALUE: "value",
  LEASE: "lease",
};

export function parseRange(body: Json): RangeOp & { serializable: boolean } {
  return {
    op: "range",
    key: bytesField(body, "key", true),
    rangeEnd: bytesField(body, "range_end"),
    limit: intField(body, "limit"),
    revision: intField(body, "revision"),
    sortOrder: enumField(body, "sort_order", SORT_ORDERS, "none"),
    sortTarget: enumField(body, "sort_target", SORT_TARGETS, "key"),
    keysOnly: boolField(body, "keys_only"),
    countOnly: boolField(body, "count_only"),
    minModRevision: intField(body, "min_mod_revision"),
    maxModRevision: intField(body, "max_mod_revision"),
    minCreateRevision: intField(body, "min_create_revision"),
    maxCreateRevision: intField(body, "max_create_revision"),
    serializable: boolField(body, "serializable"),
  };
}

export function parsePut(body: Json): PutCommand {
  return {
    op: "put",
    key: bytesField(body, "key", true),
    value: bytesField(body, "value"),
    lease: intField(body, "lease"),
    prevKv: boolField(body, "prev_kv"),
    ignoreValue: boolField(body, "ignore_value"),
    ignoreLease: boolField(body, "ignore_lease"),
  };
}

export function parseDeleteRange(body: Json): DeleteRangeCommand {
  return {
    op: "deleteRange",
    key: bytesField(body, "key", true),
    rangeEnd: bytesField(body, "range_end"),
    prevKv: boolField(body, "prev_kv"),
  };
}

export function parseTxn(body: Json): TxnCommand {
  return {
    op: "txn",
    compare: list(body, "compare").map(parseCompare),
    success: list(body, "success").map(parseRequestOp),
    failure: list(body, "failure").map(parseRequestOp),
  };
}

function list(body: Json, name: string): Json[] {
  const value = body[name];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== "object" || item === null)) {
    throw new BadRequestError(`"${name}" must be a list of objects`);
  }
  return value as Json[];
}

function parseCompare(body: Json): Compare {
  const target = enumField(body, "target", COMPARE_TARGETS, "version");
  const base = {
    result: enumField(body, "result", COMPARE_RESULTS, "equal"),
    key: bytesField(body, "key", true),
    rangeEnd: bytesField(body, "range_end"),
  };
  if (target === "value") return { ...base, target, value: bytesField(body, "value") };
  const fields = {
    version: "version",
    create: "create_revision",
    mod: "mod_revision",
    lease: "lease",
  };
  const field = fields[target];
  return { ...base, target, number: intField(body, field) };
}

function parseRequestOp(body: Json): RequestOp {
  const inner = (name: string): Json | undefined => {
    const value = body[name];
    if (value === undefined) return undefined;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new BadRequestError(`"${name}" must be an object`);
    }
    return value as Json;
  };
  const range = inner("request_range");
  if (range !== undefined) {
    const { serializable: _, ...op } = parseRange(range);
    return op;
  }
  const put = inner("request_put");
  if (put !== undefined) return parsePut(put);
  const del = inner("request_delete_range");
  if (del !== undefined) return parseDeleteRange(del);
  const txn = inner("request_txn");
  if (txn !== undefined) return parseTxn(txn);
  throw new BadRequestError(
    "a txn operation needs one of request_range, request_put, request_delete_range, request_txn",
  );
}

export function kvJson(kv: KeyValue): Json {
  const out: Json = { key: b64(kv.key) };
  if (kv.createRevision !== 0) out.create_revision = String(kv.createRevision);
  if (kv.modRevision !== 0) out.mod_revision = String(kv.modRevision);
  if (kv.version !== 0) out.version = String(kv.version);
  if (kv.value.length > 0) out.value = b64(kv.value);
  if (kv.lease !== 0) out.lease = String(kv.lease);
  return out;
}

export function opResponseJson(response: OpResponse, header: Json): Json {
  switch (response.op) {
    case "range": {
      const out: Json = { header, kvs: response.kvs.map(kvJson), count: String(response.count) };
      if (response.more) out.more = true;
      return { response_range: out };
    }
    case "put":
      return { response_put: putJson(response.prevKv, header) };
    case "deleteRange":
      return { response_delete_range: deleteJson(response.deleted, response.prevKvs, header) };
    default:
      return { response_txn: txnJson(response.succeeded, response.responses, header) };
  }
}

export function putJson(prevKv: KeyValue | undefined, header: Json): Json {
  return prevKv === undefined ? { header } : { header, prev_kv: kvJson(prevKv) };
}

export function deleteJson(deleted: number, prevKvs: KeyValue[] | undefined, header: Json): Json {
  const out: Json = { header, deleted: String(deleted) };
  if (prevKvs !== undefined && prevKvs.length > 0) out.prev_kvs = prevKvs.map(kvJson);
  return out;
}

export function txnJson(succeeded: boolean, responses: OpResponse[], header: Json): Json {
  const out: Json = { header, responses: responses.map((r) => opResponseJson(r, header)) };
  if (succeeded) out.succeeded = true;
  return out;
}

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
