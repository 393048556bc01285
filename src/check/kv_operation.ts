// One operation of a key-value history, in the format the simulator and the fault-injection
// suite record, and the validation every entry point applies to it.

export type KvOperationKind = "put" | "get" | "delete" | "cas";

/**
 * `cas(key, expect, value)` sets `value` iff the current value is `expect` (null: absent).
 * `return: null` means the outcome is unknown: the operation may have taken effect at any time
 * after `call`, or never.
 */
export interface KvOperation {
  client: number;
  op: KvOperationKind;
  key: string;
  /** What a put or cas writes. */
  value: string | null;
  /** What a cas compares against; null means "key absent". */
  expect: string | null;
  /** The cas outcome, null when unknown; ignored for the other kinds. */
  ok: boolean | null;
  /** What a get read; null means the key was missing. */
  output: string | null;
  /** Invocation time, in ns of a monotonic clock. */
  call: number;
  /** Response time on the same clock; null when the outcome is unknown. */
  return: number | null;
}

/** The fields in the order the JSON Lines format writes them. */
export const KV_OPERATION_FIELDS = [
  "client",
  "op",
  "key",
  "value",
  "expect",
  "ok",
  "output",
  "call",
  "return",
] as const satisfies readonly (keyof KvOperation)[];

const KINDS: readonly string[] = ["put", "get", "delete", "cas"] satisfies KvOperationKind[];

/** A malformed operation; `field` names the offending field. */
export class KvOperationError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`field "${field}" ${problem}`);
    this.name = "KvOperationError";
  }
}

/** Returns a copy of `record` as a KvOperation, or throws a KvOperationError naming the wrong field. */
export function validateKvOperation(record: unknown): KvOperation {
  if (typeof record !== "object" || record === null || Array.isArray(record)) {
    throw new KvOperationError("(operation)", "must be a JSON object");
  }
  // Each field read by name: a loop over the field names would make every read a slow lookup.
  const op = record as Record<keyof KvOperation, unknown>;
  const { client, key, value, expect, ok, output, call } = op;
  if (!Number.isSafeInteger(client)) throw invalid("client", client, "must be an integer");
  const kind = op.op as KvOperationKind;
  if (kind !== "put" && kind !== "get" && kind !== "delete" && kind !== "cas") {
    throw invalid("op", kind, `must be one of ${KINDS.join(", ")}`);
  }
  if (typeof key !== "string") throw invalid("key", key, "must be a string");
  requireStringOrNull("value", value);
  if ((kind === "put" || kind === "cas") && value === null) {
    throw invalid("value", value, `must be a string for ${kind}`);
  }
  requireStringOrNull("expect", expect);
  if (ok !== null && typeof ok !== "boolean")
    throw invalid("ok", ok, "must be true, false or null");
  requireStringOrNull("output", output);
  if (typeof call !== "number" || !Number.isFinite(call)) {
    throw invalid("call", call, "must be a finite number");
  }
  const returnTime = validateReturn(op.return, call);
  // A copy, so that extra fields are dropped and later changes to the record don't leak in.
  return {
    client: client as number,
    op: kind,
    key,
    value: value as string | null,
    expect: expect as string | null,
    ok,
    output: output as string | null,
    call,
    return: returnTime,
  };
}

/** JSON has no undefined, so an undefined field is a missing one. */
function invalid(field: string, value: unknown, requirement: string): KvOperationError {
  return new KvOperationError(field, value === undefined ? "is missing" : requirement);
}

function requireStringOrNull(field: string, value: unknown): void {
  if (value !== null && typeof value !== "string") {
    throw invalid(field, value, "must be a string or null");
  }
}

function validateReturn(returnTime: unknown, callTime: number): number | null {
  if (returnTime === null) return null;
  if (typeof returnTime !== "number" || !Number.isFinite(returnTime)) {
    throw invalid("return", returnTime, "must be a finite number or null");
  }
  if (returnTime < callTime) {
    throw new KvOperationError("return", `is ${returnTime}, before the call at ${callTime}`);
  }
  return returnTime;
}
