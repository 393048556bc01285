// Printing in etcdctl's formats: "simple" (lines scripts already parse) and "json" (the response
// message with etcdctl's conventions: int64 as JSON numbers, bytes as base64, zero values left out).
import { packageDefinition } from "../../api/grpc/proto.ts";

export type WriteOut = "simple" | "json";

export const write = (text: string) => process.stdout.write(text);

/** A lease or member id (decimal string, as decoded) in etcdctl's hex, zero-padded to 16. */
export function hexId(id: string | bigint, width = 16, pad = "0"): string {
  return BigInt.asUintN(64, BigInt(id)).toString(16).padStart(width, pad);
}

/** Key and value lines of one key-value (etcdctl's printKV). */
export function kvLines(kv: { key: Buffer; value: Buffer }, valueOnly = false): string {
  const value = `${kv.value.toString("utf8")}\n`;
  return valueOnly ? value : `${kv.key.toString("utf8")}\n${value}`;
}

interface FieldDescriptor {
  name: string;
  label: string;
  type: string;
  typeName: string;
}

function messageFields(typeName: string, scope: string): FieldDescriptor[] {
  const candidates = [`${scope}.${typeName}`, typeName, `${scope.split(".")[0]}.${typeName}`];
  for (const name of candidates) {
    const definition = packageDefinition[name] as { type?: { field: FieldDescriptor[] } };
    if (definition?.type !== undefined) return definition.type.field;
  }
  throw new Error(`no message type ${typeName}`);
}

function scalarJson(field: FieldDescriptor, value: unknown, scope: string): string | undefined {
  switch (field.type) {
    case "TYPE_MESSAGE":
      return messageJson(value as Record<string, unknown>, field.typeName, scope);
    case "TYPE_BYTES":
      return (value as Buffer).length === 0
        ? undefined
        : JSON.stringify((value as Buffer).toString("base64"));
    case "TYPE_INT64":
    case "TYPE_UINT64":
      // Decoded as decimal strings: written as numbers, digit for digit (no float rounding).
      return value === "0" ? undefined : String(value);
    default:
      return value === 0 || value === false || value === "" ? undefined : JSON.stringify(value);
  }
}

/** `message` (as grpc-js decoded it) as etcdctl's JSON; `typeName` like "etcdserverpb.RangeResponse". */
export function messageJson(
  message: Record<string, unknown> | null | undefined,
  typeName: string,
  scope = "etcdserverpb",
): string | undefined {
  if (message === null || message === undefined) return undefined;
  const qualified = typeName.includes(".") ? typeName : `${scope}.${typeName}`;
  const ownScope = qualified.slice(0, qualified.lastIndexOf("."));
  const parts: string[] = [];
  for (const field of messageFields(typeName, scope)) {
    const value = message[field.name];
    if (value === undefined || value === null) continue;
    let json: string | undefined;
    if (field.label === "LABEL_REPEATED") {
      const items = (value as unknown[]).map((item) => scalarJson(field, item, ownScope) ?? "{}");
      json = items.length === 0 ? undefined : `[${items.join(",")}]`;
    } else {
      json = scalarJson(field, value, ownScope);
    }
    if (json !== undefined) parts.push(`${JSON.stringify(field.name)}:${json}`);
  }
  return `{${parts.join(",")}}`;
}

export function writeJson(message: Record<string, unknown>, typeName: string): void {
  write(`${messageJson(message, typeName) ?? "{}"}\n`);
}

/** Bytes as etcdctl prints them in `endpoint status` (go-humanize's SI form: "20 kB"). */
export function humanBytes(bytes: number): string {
  if (bytes < 10) return `${bytes} B`;
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  const exponent = Math.floor(Math.log(bytes) / Math.log(1000));
  const value = Math.floor((bytes / 1000 ** exponent) * 10 + 0.5) / 10;
  return `${value < 10 ? value.toFixed(1) : roundHalfEven(value)} ${units[exponent]}`;
}

function roundHalfEven(value: number): string {
  const rounded = Math.round(value);
  return String(Math.abs(value % 1) === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded);
}
