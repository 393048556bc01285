// etcdctl's txn input: compare lines, a blank line, success operations, a blank line, failure
// operations (ending at a blank line or the end of input). A compare is
//   (c|create|m|mod|ver|version|val|value|lease)("key") (=|!=|<|>) "operand"
// and an operation is a put/get/del command line with the same flags as the command.
import { Command, CommanderError } from "commander";
import { parseLeaseId } from "./ids.ts";
import { deleteRequest, putRequest, rangeRequest } from "./kv.ts";

const RESULTS: Record<string, number> = { "=": 0, ">": 1, "<": 2, "!=": 3 };
const TARGETS: Record<string, [number, string]> = {
  ver: [0, "version"],
  version: [0, "version"],
  c: [1, "create_revision"],
  create: [1, "create_revision"],
  m: [2, "mod_revision"],
  mod: [2, "mod_revision"],
  val: [3, "value"],
  value: [3, "value"],
  lease: [4, "lease"],
};
const COMPARE = /^(\w+)\(("(?:[^"\\]|\\.)*")\)\s*(=|!=|<|>)\s*("(?:[^"\\]|\\.)*")\s*$/;

export class TxnSyntaxError extends Error {}

export interface TxnRequest {
  compare: object[];
  success: object[];
  failure: object[];
}

export function parseTxn(input: string): TxnRequest {
  const lines = input.split(/\r?\n/);
  const section = (): string[] => {
    const taken: string[] = [];
    while (lines.length > 0) {
      const line = lines.shift()!.trim();
      if (line === "") break;
      taken.push(line);
    }
    return taken;
  };
  const compare = section().map(parseCompare);
  const success = section().map(parseOperation);
  const failure = section().map(parseOperation);
  const rest = lines.filter((line) => line.trim() !== "");
  if (rest.length > 0)
    throw new TxnSyntaxError(`unexpected input after the failure operations: ${rest[0]}`);
  return { compare, success, failure };
}

/** A Go-quoted string ("a\"b"); JSON's escapes are the common subset. */
function unquote(quoted: string, line: string): string {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    throw new TxnSyntaxError(`malformed comparison: ${line}`);
  }
}

export function parseCompare(line: string): object {
  const match = COMPARE.exec(line);
  if (match === null) throw new TxnSyntaxError(`malformed comparison: ${line}`);
  const target = TARGETS[match[1]!];
  if (target === undefined)
    throw new TxnSyntaxError(`malformed comparison: ${line} (unknown target ${match[1]})`);
  const key = Buffer.from(unquote(match[2]!, line), "utf8");
  const operand = unquote(match[4]!, line);
  const [targetNumber, field] = target;
  let value: string | Buffer;
  if (field === "value") value = Buffer.from(operand, "utf8");
  else if (field === "lease") value = /^\d+$/.test(operand) ? operand : parseLeaseId(operand);
  else if (/^-?\d+$/.test(operand)) value = operand;
  else throw new TxnSyntaxError(`malformed comparison: ${line} (${match[1]} needs an integer)`);
  return {
    result: RESULTS[match[3]!],
    target: targetNumber,
    key,
    [field]: value,
    target_union: field,
  };
}

/** Splits a line into words; double-quoted words may hold spaces and Go escapes. */
export function argify(line: string): string[] {
  const words = line.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
  return words.map((word) => (word.startsWith('"') ? unquote(word, line) : word));
}

export function parseOperation(line: string): object {
  let operation: object | undefined;
  const parser = new Command("txn")
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} });
  parser
    .command("put <key> <value>")
    .option("--lease <id>")
    .option("--prev-kv")
    .action((key: string, value: string, flags) => {
      operation = { request_put: putRequest(key, value, flags), request: "request_put" };
    });
  parser
    .command("get <key>")
    .option("--prefix")
    .option("--from-key")
    .option("--rev <revision>")
    .option("--limit <n>")
    .option("--keys-only")
    .option("--serializable")
    .action((key: string, flags) => {
      operation = { request_range: rangeRequest(key, flags), request: "request_range" };
    });
  parser
    .command("del <key>")
    .alias("delete")
    .option("--prefix")
    .option("--from-key")
    .option("--prev-kv")
    .action((key: string, flags) => {
      operation = {
        request_delete_range: deleteRequest(key, flags),
        request: "request_delete_range",
      };
    });
  try {
    parser.parse(argify(line), { from: "user" });
  } catch (error) {
    const reason =
      error instanceof CommanderError
        ? error.message.replace(/^error: /, "")
        : (error as Error).message;
    throw new TxnSyntaxError(`malformed operation: ${line} (${reason})`);
  }
  if (operation === undefined)
    throw new TxnSyntaxError(`malformed operation: ${line} (expected put, get or del)`);
  return operation;
}
