// The key-value store as one register per key, and the entry point that checks a recorded
// key-value history against it.
import { type KvOperation, validateKvOperation } from "./kv_operation.ts";
import { explainKvCounterexample } from "./kv_report.ts";
import { checkOperations } from "./linearizability.ts";
import type { CheckBudget, CheckVerdict, Model, Operation, StepResult } from "./model.ts";

/** A value as a small integer, so that states compare and hash cheaply: 0 is "absent". */
export type ValueId = number;
export const ABSENT: ValueId = 0;

/** Interns the values of one history. */
export class ValueNames {
  private readonly ids = new Map<string, ValueId>();
  private readonly names: (string | null)[] = [null];

  id(value: string | null): ValueId {
    if (value === null) return ABSENT;
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(value, id);
      this.names.push(value);
    }
    return id;
  }

  name(id: ValueId): string | null {
    return this.names[id] ?? null;
  }
}

export interface RegisterInput {
  readonly key: string;
  readonly kind: KvOperation["op"];
  /** What a put or cas writes. */
  readonly value: ValueId;
  /** What a cas compares against. */
  readonly expect: ValueId;
}

export interface RegisterOutput {
  /** The cas outcome; null when unknown, which any outcome satisfies. */
  readonly ok: boolean | null;
  /** What a get read. */
  readonly read: ValueId;
}

export type RegisterOperation = Operation<RegisterInput, RegisterOutput>;
export type RegisterModel = Model<ValueId, RegisterInput, RegisterOutput>;

/** One register per key, partitioned by key. */
export function createRegisterModel(): RegisterModel {
  // Reused for every step: the checker reads it before the next one.
  const result: StepResult<ValueId> = { ok: true, state: ABSENT };
  return {
    init: () => ABSENT,
    step(state, input, output) {
      result.ok = true;
      result.state = state;
      if (input.kind === "put") result.state = input.value;
      else if (input.kind === "delete") result.state = ABSENT;
      else if (input.kind === "get") result.ok = state === output.read;
      else {
        const matches = state === input.expect;
        result.ok = output.ok === null || output.ok === matches;
        if (matches) result.state = input.value;
      }
      return result;
    },
    equal: (a, b) => a === b,
    hash: (state) => state,
    partition: partitionByKey,
  };
}

function partitionByKey(ops: readonly RegisterOperation[]): RegisterOperation[][] {
  const byKey = new Map<string, RegisterOperation[]>();
  for (const op of ops) {
    const group = byKey.get(op.input.key);
    if (group === undefined) byKey.set(op.input.key, [op]);
    else group.push(op);
  }
  return [...byKey.values()];
}

export interface CheckResult {
  verdict: CheckVerdict;
  /** The key whose history failed (or, for `unknown`, was being searched). */
  failingKey?: string;
  /**
   * For not-linearizable: the longest linearizable prefix found and the operations that could
   * not be placed after it; for unknown: where the search gave up.
   */
  explanation?: string;
}

/** Checks a key-value history for linearizability; throws on a malformed operation. */
export function checkKvHistory(
  history: readonly KvOperation[],
  options: CheckBudget = {},
): CheckResult {
  const validated = history.map(validateAt);
  const droppable = unobservableUnknownWrites(validated);
  const values = new ValueNames();
  const sources = new Map<RegisterOperation, number>();
  const ops: RegisterOperation[] = [];
  validated.forEach((op, index) => {
    // A read with an unknown outcome constrains nothing.
    if (op.return === null && (op.op === "get" || droppable.has(index))) return;
    const registerOp = toRegisterOperation(op, values);
    sources.set(registerOp, index);
    ops.push(registerOp);
  });
  const check = checkOperations(createRegisterModel(), ops, options);
  if (check.verdict === "unknown") {
    const partition = check.unfinishedPartition!;
    const key = partition[0]!.input.key;
    return {
      verdict: check.verdict,
      failingKey: key,
      explanation: `gave up after ${check.steps} search steps, on key ${JSON.stringify(key)} (${partition.length} operations)`,
    };
  }
  if (check.verdict === "not-linearizable") {
    const counterexample = check.counterexample!;
    return {
      verdict: check.verdict,
      failingKey: counterexample.partition[0]!.input.key,
      explanation: explainKvCounterexample(counterexample, validated, sources, values),
    };
  }
  return { verdict: check.verdict };
}

function validateAt(op: KvOperation, index: number): KvOperation {
  try {
    return validateKvOperation(op);
  } catch (error) {
    throw new Error(`history operation ${index}: ${(error as Error).message}`, { cause: error });
  }
}

function toRegisterOperation(op: KvOperation, values: ValueNames): RegisterOperation {
  return {
    client: op.client,
    input: { key: op.key, kind: op.op, value: values.id(op.value), expect: values.id(op.expect) },
    output: { ok: op.op === "cas" ? op.ok : null, read: values.id(op.output) },
    call: op.call,
    return: op.return ?? Number.POSITIVE_INFINITY,
  };
}

/** What a key's history reveals about its values. */
interface KeyObservations {
  /** Every value some get read or some cas compared against. */
  readonly observed: Set<string | null>;
  /** The latest return of a cas with a known return that failed or whose outcome is unknown. */
  latestUncertainCasReturn: number;
}

/**
 * The unknown-outcome writes that can be left out without changing the verdict: each may as
 * well take effect last, where it harms nothing, and otherwise would cost the search a factor
 * of two. That holds when nobody can have seen its value (no get read it, no cas compared
 * against it) and no failed or uncertain cas that could come after it relied on the value it
 * replaced: then the only operations between it and the next write are unknown-outcome cas
 * that fail against it, and those too may move last.
 */
function unobservableUnknownWrites(history: readonly KvOperation[]): Set<number> {
  const byKey = new Map<string, KeyObservations>();
  for (const op of history) {
    let facts = byKey.get(op.key);
    if (facts === undefined) {
      facts = { observed: new Set(), latestUncertainCasReturn: Number.NEGATIVE_INFINITY };
      byKey.set(op.key, facts);
    }
    if (op.op === "get" && op.return !== null) facts.observed.add(op.output);
    if (op.op === "cas") {
      facts.observed.add(op.expect);
      if (op.return !== null && op.ok !== true) {
        facts.latestUncertainCasReturn = Math.max(facts.latestUncertainCasReturn, op.return);
      }
    }
  }
  const droppable = new Set<number>();
  history.forEach((op, index) => {
    if (op.return !== null || op.op === "get") return;
    const facts = byKey.get(op.key)!;
    const written = op.op === "delete" ? null : op.value;
    if (!facts.observed.has(written) && facts.latestUncertainCasReturn < op.call) {
      droppable.add(index);
    }
  });
  return droppable;
}
