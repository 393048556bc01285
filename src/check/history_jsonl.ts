// Histories as JSON Lines: one operation per line, the format the fault-injection suite records.
import { KV_OPERATION_FIELDS, type KvOperation, validateKvOperation } from "./kv_operation.ts";

/** Parses and validates a history; throws an Error naming the line (from 1) and the field. */
export function parseHistoryJsonLines(text: string): KvOperation[] {
  const history: KvOperation[] = [];
  text.split("\n").forEach((line, index) => {
    if (line.trim() === "") return;
    history.push(parseLine(line, index + 1));
  });
  return history;
}

function parseLine(line: string, lineNumber: number): KvOperation {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch (error) {
    throw new Error(`line ${lineNumber}: not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  try {
    return validateKvOperation(record);
  } catch (error) {
    throw new Error(`line ${lineNumber}: ${(error as Error).message}`, { cause: error });
  }
}

// JSON.stringify takes a mutable array of the properties to write, in order.
const FIELD_ORDER: string[] = [...KV_OPERATION_FIELDS];

/** One line per operation, fields in a fixed order, ending with a newline (if not empty). */
export function formatHistoryJsonLines(history: readonly KvOperation[]): string {
  return history.map((op) => `${JSON.stringify(op, FIELD_ORDER)}\n`).join("");
}
