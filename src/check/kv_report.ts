// The readable account of why a key's history is not linearizable.
import type { KvOperation } from "./kv_operation.ts";
import type {
  RegisterInput,
  RegisterOperation,
  RegisterOutput,
  ValueId,
  ValueNames,
} from "./kv_register.ts";
import type { Counterexample } from "./linearizability.ts";

/** The prefix's tail is what matters for a diagnosis; its beginning only lengthens the report. */
const PREFIX_OPERATIONS_SHOWN = 10;

/** Operations are named `#i`, their position (from 0) in the history as given. */
export function explainKvCounterexample(
  counterexample: Counterexample<ValueId, RegisterInput, RegisterOutput>,
  history: readonly KvOperation[],
  sources: ReadonlyMap<RegisterOperation, number>,
  values: ValueNames,
): string {
  const { partition, longestPrefix, stateAfterPrefix, unplaceable } = counterexample;
  const key = partition[0]!.input.key;
  const current = showValue(values.name(stateAfterPrefix));
  const describe = (op: RegisterOperation) => describeOperation(history, sources.get(op)!);
  const lines = [
    `key ${JSON.stringify(key)}: no linearization of its ${partition.length} operations; ` +
      `the longest linearizable prefix has ${longestPrefix.length}` +
      (longestPrefix.length === 0 ? "." : ":"),
  ];
  const hidden = longestPrefix.length - PREFIX_OPERATIONS_SHOWN;
  if (hidden > 0) lines.push(`  … ${hidden} earlier`);
  for (const op of longestPrefix.slice(Math.max(hidden, 0))) lines.push(`  ${describe(op)}`);
  lines.push(`then the value is ${current}, and no operation that could come next fits:`);
  for (const op of unplaceable) {
    lines.push(`  ${describe(op)}: ${whyNot(history[sources.get(op)!]!, current)}`);
  }
  return lines.join("\n");
}

function describeOperation(history: readonly KvOperation[], index: number): string {
  const op = history[index]!;
  const interval = `[${op.call}, ${op.return ?? "unknown"}]`;
  return `#${index} client ${op.client} ${describeCall(op)} ${interval}`;
}

function describeCall(op: KvOperation): string {
  switch (op.op) {
    case "put":
      return `put ${showValue(op.value)}`;
    case "delete":
      return "delete";
    case "get":
      return `get -> ${showValue(op.output)}`;
    case "cas":
      return `cas ${showValue(op.expect)} -> ${showValue(op.value)} ok=${op.ok ?? "unknown"}`;
  }
}

function whyNot(op: KvOperation, current: string): string {
  if (op.op === "get") return `read ${showValue(op.output)}, but the value is ${current}`;
  if (op.op === "cas" && op.ok === true) {
    return `succeeded expecting ${showValue(op.expect)}, but the value is ${current}`;
  }
  if (op.op === "cas" && op.ok === false) return `failed, but the value is ${current} as expected`;
  return "fits here, but every order after it fails";
}

function showValue(value: string | null): string {
  return value === null ? "(absent)" : JSON.stringify(value);
}
