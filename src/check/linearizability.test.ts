// The checker against hand-written histories, histories linearizable by construction (and one
// mutation away from not), and a brute-force checker on small concurrent histories.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type CheckResult,
  type CheckVerdict,
  checkKvHistory,
  checkOperations,
  formatHistoryJsonLines,
  type KvOperation,
  type Model,
  type Operation,
  parseHistoryJsonLines,
} from "./index.ts";

const base = { value: null, expect: null, ok: null, output: null } as const;

function put(client: number, key: string, value: string, call: number, ret: number | null) {
  return { ...base, client, op: "put", key, value, ok: true, call, return: ret } as KvOperation;
}

function get(client: number, key: string, output: string | null, call: number, ret: number | null) {
  return { ...base, client, op: "get", key, output, ok: true, call, return: ret } as KvOperation;
}

function del(client: number, key: string, call: number, ret: number | null): KvOperation {
  return { ...base, client, op: "delete", key, ok: true, call, return: ret };
}

function cas(
  client: number,
  key: string,
  expect: string | null,
  value: string,
  ok: boolean | null,
  call: number,
  ret: number | null,
): KvOperation {
  return { ...base, client, op: "cas", key, expect, value, ok, call, return: ret };
}

function verdictOf(history: readonly KvOperation[]): CheckVerdict {
  return checkKvHistory(history).verdict;
}

describe("checkKvHistory on hand-written histories", () => {
  it("accepts the empty history", () => {
    assert.equal(verdictOf([]), "linearizable");
  });

  it("accepts a sequential history", () => {
    const history = [
      get(1, "k", null, 0, 5),
      put(1, "k", "a", 10, 20),
      get(2, "k", "a", 30, 40),
      put(2, "k", "b", 50, 60),
      get(1, "k", "b", 70, 80),
    ];
    assert.equal(verdictOf(history), "linearizable");
  });

  it("accepts reads observing either order of two concurrent writes", () => {
    const writes = [put(1, "k", "a", 0, 100), put(2, "k", "b", 10, 90)];
    for (const seen of ["a", "b"]) {
      assert.equal(verdictOf([...writes, get(3, "k", seen, 120, 130)]), "linearizable");
    }
    // During the writes a reader may see one and then the other.
    const during = [get(3, "k", "a", 20, 30), get(3, "k", "b", 40, 50), get(4, "k", "b", 110, 120)];
    assert.equal(verdictOf([...writes, ...during]), "linearizable");
  });

  it("rejects a value flipping back after both concurrent writes returned", () => {
    const history = [
      put(1, "k", "a", 0, 100),
      put(2, "k", "b", 10, 90),
      get(3, "k", "a", 120, 130),
      get(3, "k", "b", 140, 150),
    ];
    assert.equal(verdictOf(history), "not-linearizable");
  });

  it("rejects a stale read after a completed write", () => {
    const history = [put(1, "k", "a", 0, 10), put(1, "k", "b", 20, 30), get(2, "k", "a", 40, 50)];
    const result = checkKvHistory(history);
    assert.equal(result.verdict, "not-linearizable");
    assert.equal(result.failingKey, "k");
    assert.match(
      result.explanation!,
      /#2 client 2 get -> "a" \[40, 50\]: read "a", but the value is "b"/,
    );
    assert.match(result.explanation!, /longest linearizable prefix has 2/);
  });

  it("rejects a read of a value never written", () => {
    assert.equal(
      verdictOf([put(1, "k", "a", 0, 10), get(2, "k", "zzz", 5, 15)]),
      "not-linearizable",
    );
    assert.equal(verdictOf([get(2, "k", "zzz", 5, 15)]), "not-linearizable");
  });

  it("accepts cas outcomes consistent with the value", () => {
    const history = [
      cas(1, "k", null, "a", true, 0, 10),
      cas(2, "k", "x", "b", false, 20, 30),
      cas(1, "k", "a", "c", true, 40, 50),
      get(2, "k", "c", 60, 70),
    ];
    assert.equal(verdictOf(history), "linearizable");
  });

  it("rejects cas outcomes inconsistent with the value", () => {
    const before = [put(1, "k", "a", 0, 10)];
    assert.equal(verdictOf([...before, cas(2, "k", "a", "b", false, 20, 30)]), "not-linearizable");
    assert.equal(verdictOf([...before, cas(2, "k", "x", "b", true, 20, 30)]), "not-linearizable");
    assert.equal(verdictOf([...before, cas(2, "k", null, "b", true, 20, 30)]), "not-linearizable");
    const applied = [...before, cas(2, "k", "a", "b", true, 20, 30)];
    assert.equal(verdictOf([...applied, get(1, "k", "a", 40, 50)]), "not-linearizable");
  });

  it("reads a deleted key as absent", () => {
    const deleted = [put(1, "k", "a", 0, 10), del(1, "k", 20, 30)];
    assert.equal(verdictOf([...deleted, get(2, "k", null, 40, 50)]), "linearizable");
    assert.equal(verdictOf([...deleted, get(2, "k", "a", 40, 50)]), "not-linearizable");
    assert.equal(verdictOf([...deleted, cas(2, "k", null, "b", true, 40, 50)]), "linearizable");
  });

  it("accepts an unknown-outcome put whose value is read later", () => {
    const history = [
      put(1, "k", "a", 0, 10),
      put(2, "k", "b", 20, null),
      get(3, "k", "b", 1000, 1010),
    ];
    assert.equal(verdictOf(history), "linearizable");
  });

  it("accepts an unknown-outcome put that is never observed", () => {
    const history = [
      put(1, "k", "a", 0, 10),
      put(2, "k", "b", 20, null),
      get(3, "k", "a", 1000, 1010),
    ];
    assert.equal(verdictOf(history), "linearizable");
  });

  it("rejects the old value coming back after an unknown-outcome put was observed", () => {
    const history = [
      put(1, "k", "a", 0, 10),
      put(2, "k", "b", 20, null),
      get(3, "k", "b", 30, 40),
      get(3, "k", "a", 50, 60),
    ];
    assert.equal(verdictOf(history), "not-linearizable");
  });

  it("lets an unknown-outcome put explain a failed cas", () => {
    const history = [
      put(1, "k", "a", 0, 10),
      put(2, "k", "b", 20, null),
      cas(3, "k", "a", "c", false, 30, 40),
    ];
    assert.equal(verdictOf(history), "linearizable");
    // The same cas before the put was even called has nothing to explain it.
    const earlier = [
      put(1, "k", "a", 0, 10),
      cas(3, "k", "a", "c", false, 12, 18),
      put(2, "k", "b", 20, null),
    ];
    assert.equal(verdictOf(earlier), "not-linearizable");
    // A cas returning the instant the put is called may still come after it.
    const touching = [
      put(1, "k", "a", 0, 10),
      cas(3, "k", "a", "c", false, 12, 20),
      put(2, "k", "b", 20, null),
    ];
    assert.equal(verdictOf(touching), "linearizable");
  });

  it("lets an unknown-outcome cas take effect or not", () => {
    const before = [put(1, "k", "a", 0, 10), cas(2, "k", "a", "b", null, 20, null)];
    assert.equal(verdictOf([...before, get(3, "k", "b", 30, 40)]), "linearizable");
    assert.equal(verdictOf([...before, get(3, "k", "a", 30, 40)]), "linearizable");
    assert.equal(verdictOf([...before, get(3, "k", "c", 30, 40)]), "not-linearizable");
  });

  it("drops reads whose outcome is unknown", () => {
    assert.equal(
      verdictOf([put(1, "k", "a", 0, 10), get(2, "k", "zzz", 20, null)]),
      "linearizable",
    );
  });

  it("rejects reads seeing new then old while a write overlaps both (the classic)", () => {
    const history = [
      put(1, "k", "old", 0, 10),
      put(1, "k", "new", 20, 100),
      get(2, "k", "new", 30, 40),
      get(3, "k", "old", 50, 60),
    ];
    assert.equal(verdictOf(history), "not-linearizable");
    // Overlapping reads may see the values in either order.
    const overlapping = [
      ...history.slice(0, 2),
      get(2, "k", "new", 30, 55),
      get(3, "k", "old", 50, 60),
    ];
    assert.equal(verdictOf(overlapping), "linearizable");
  });

  it("counts operations that merely touch in time as concurrent", () => {
    assert.equal(verdictOf([put(1, "k", "a", 0, 10), get(2, "k", null, 10, 20)]), "linearizable");
    assert.equal(
      verdictOf([put(1, "k", "a", 0, 10), get(2, "k", null, 11, 20)]),
      "not-linearizable",
    );
  });

  it("checks keys independently and names the failing one", () => {
    const history = [
      put(1, "k1", "a", 0, 10),
      put(2, "k2", "a", 0, 10),
      get(1, "k1", "a", 20, 30),
      get(2, "k2", null, 20, 30),
    ];
    const result = checkKvHistory(history);
    assert.equal(result.verdict, "not-linearizable");
    assert.equal(result.failingKey, "k2");
  });

  it("answers unknown when the step budget runs out", () => {
    const history = [put(1, "k", "a", 0, 10), get(2, "k", "a", 20, 30)];
    const result = checkKvHistory(history, { maxSteps: 1 });
    assert.equal(result.verdict, "unknown");
    assert.equal(result.failingKey, "k");
    assert.equal(checkKvHistory(history, { maxSteps: 100 }).verdict, "linearizable");
  });

  it("throws on malformed operations, naming the operation and field", () => {
    assert.throws(() => checkKvHistory([put(1, "k", "a", 20, 10)]), /operation 0: field "return"/);
    const nullPut = { ...put(1, "k", "a", 0, 10), value: null };
    assert.throws(
      () => checkKvHistory([get(1, "k", null, 0, 1), nullPut]),
      /operation 1: field "value"/,
    );
    const badKind = { ...put(1, "k", "a", 0, 10), op: "append" } as unknown as KvOperation;
    assert.throws(() => checkKvHistory([badKind]), /field "op"/);
    const nanCall = put(1, "k", "a", Number.NaN, 10);
    assert.throws(() => checkKvHistory([nanCall]), /field "call"/);
  });
});

describe("checkOperations with another model", () => {
  // A counter: "inc" adds one, "read" must see the count.
  type CounterInput = "inc" | "read";
  const counter: Model<number, CounterInput, number | null> = {
    init: () => 0,
    step: (state, input, output) =>
      input === "inc" ? { ok: true, state: state + 1 } : { ok: output === state, state },
    equal: (a, b) => a === b,
    hash: (state) => state,
  };
  const op = (input: CounterInput, output: number | null, call: number, ret: number) =>
    ({ client: 0, input, output, call, return: ret }) satisfies Operation<
      CounterInput,
      number | null
    >;

  it("finds a linearization and reports a counterexample", () => {
    const concurrent = [op("inc", null, 0, 10), op("inc", null, 0, 10), op("read", 1, 5, 6)];
    assert.equal(checkOperations(counter, concurrent).verdict, "linearizable");
    const stale = [op("inc", null, 0, 10), op("inc", null, 11, 20), op("read", 1, 21, 30)];
    const check = checkOperations(counter, stale);
    assert.equal(check.verdict, "not-linearizable");
    assert.equal(check.counterexample?.longestPrefix.length, 2);
    assert.equal(check.counterexample?.stateAfterPrefix, 2);
    assert.deepEqual(check.counterexample?.unplaceable, [stale[2]]);
  });

  it("throws on an operation returning before its call", () => {
    assert.throws(() => checkOperations(counter, [op("inc", null, 10, 5)]), /before its call/);
  });
});

// ---------------------------------------------------------------------------------------------
// Histories linearizable by construction: a sequential execution whose operations take effect
// at instants 10 apart, each given an interval around its instant. Any real-time order between
// two intervals then agrees with the order of their instants.

const SPACING = 10;

interface PlannedOperation {
  kind: KvOperation["op"];
  key: string;
  value: string;
  expect: string | null;
  client: number;
  widenBefore: number;
  widenAfter: number;
  /** known: returned; unknown: took effect but never returned; phantom: never took effect. */
  fate: "known" | "unknown" | "phantom";
}

function plannedOperation(keys: readonly string[], values: readonly string[]) {
  return fc.record<PlannedOperation>({
    kind: fc.constantFrom("put", "get", "delete", "cas"),
    key: fc.constantFrom(...keys),
    value: fc.constantFrom(...values),
    expect: fc.constantFrom(null, ...values),
    client: fc.integer({ min: 0, max: 7 }),
    widenBefore: fc.integer({ min: 0, max: 6 * SPACING }),
    widenAfter: fc.integer({ min: 0, max: 6 * SPACING }),
    fate: fc.constantFrom("known", "known", "known", "known", "known", "unknown", "phantom"),
  });
}

function executeSequentially(plan: readonly PlannedOperation[]): KvOperation[] {
  const store = new Map<string, string>();
  return plan.map((step, index) => {
    const instant = (index + 1) * SPACING;
    const call = instant - step.widenBefore;
    const ret = step.fate === "known" ? instant + step.widenAfter : null;
    const current = store.get(step.key) ?? null;
    const op: KvOperation = {
      client: step.client,
      op: step.kind,
      key: step.key,
      value: step.kind === "put" || step.kind === "cas" ? step.value : null,
      expect: step.kind === "cas" ? step.expect : null,
      ok: null,
      output: null,
      call,
      return: ret,
    };
    if (step.kind === "get") return { ...op, output: step.fate === "known" ? current : "garbage" };
    if (step.fate === "phantom") return op;
    if (step.kind === "put") store.set(step.key, step.value);
    if (step.kind === "delete") store.delete(step.key);
    if (step.kind === "cas") {
      const matches = current === step.expect;
      if (matches) store.set(step.key, step.value);
      return { ...op, ok: ret === null ? null : matches };
    }
    return op;
  });
}

function linearizableHistory(
  keys: readonly string[],
  values: readonly string[],
  lengths: { minLength: number; maxLength: number },
) {
  return fc
    .tuple(fc.array(plannedOperation(keys, values), { ...lengths, size: "max" }), fc.boolean())
    .map(([plan, reversed]) => {
      // The checker must not care in which order the history lists operations.
      const history = executeSequentially(plan);
      return reversed ? history.reverse() : history;
    });
}

const KEYS = ["k1", "k2", "k3"];
const VALUES = ["x", "y", "z"];

describe("checkKvHistory on histories linearizable by construction", () => {
  it("says linearizable", () => {
    fc.assert(
      fc.property(linearizableHistory(KEYS, VALUES, { minLength: 0, maxLength: 60 }), (history) => {
        assertVerdict(checkKvHistory(history), "linearizable", history);
      }),
      { numRuns: 300 },
    );
  });

  it("says linearizable for longer histories over five keys", () => {
    const values = Array.from({ length: 40 }, (_, i) => `v${i}`);
    fc.assert(
      fc.property(
        linearizableHistory(["a", "b", "c", "d", "e"], values, { minLength: 200, maxLength: 400 }),
        (history) => {
          assertVerdict(checkKvHistory(history), "linearizable", history);
        },
      ),
      { numRuns: 30 },
    );
  });

  it("says not-linearizable once one read returns a value never written", () => {
    const mutated = fc
      .tuple(linearizableHistory(KEYS, VALUES, { minLength: 1, maxLength: 40 }), fc.nat())
      .filter(([history]) => history.some(isKnownRead))
      .map(([history, choice]) => {
        const reads = history.flatMap((op, index) => (isKnownRead(op) ? [index] : []));
        const target = reads[choice % reads.length]!;
        const copy = history.slice();
        copy[target] = { ...history[target]!, output: "never-written" };
        return { history: copy, key: history[target]!.key };
      });
    fc.assert(
      fc.property(mutated, ({ history, key }) => {
        const result = checkKvHistory(history);
        assertVerdict(result, "not-linearizable", history);
        assert.equal(result.failingKey, key);
        assert.match(result.explanation!, /read "never-written"/);
      }),
      { numRuns: 300 },
    );
  });
});

function isKnownRead(op: KvOperation): boolean {
  return op.op === "get" && op.return !== null;
}

function assertVerdict(result: CheckResult, expected: CheckVerdict, history: KvOperation[]): void {
  if (result.verdict !== expected) {
    assert.fail(
      `expected ${expected}, got ${result.verdict} (${result.explanation ?? ""}) for:\n` +
        formatHistoryJsonLines(history),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// A brute-force reference: every subset of the unknown-outcome writes may have taken effect,
// and every order of the chosen operations that respects real time is tried.

function precedes(a: KvOperation, b: KvOperation): boolean {
  return a.return !== null && a.return < b.call;
}

/** Applies `op` to `store` if its recorded outcome is possible there; false otherwise. */
function applyOperation(store: Map<string, string>, op: KvOperation): boolean {
  const current = store.get(op.key) ?? null;
  if (op.op === "get") return current === op.output;
  if (op.op === "put") store.set(op.key, op.value!);
  if (op.op === "delete") store.delete(op.key);
  if (op.op === "cas") {
    const matches = current === op.expect;
    if (op.ok !== null && op.ok !== matches) return false;
    if (matches) store.set(op.key, op.value!);
  }
  return true;
}

function someOrderFits(remaining: readonly KvOperation[], store: Map<string, string>): boolean {
  if (remaining.length === 0) return true;
  return remaining.some((op) => {
    if (remaining.some((other) => other !== op && precedes(other, op))) return false;
    const next = new Map(store);
    return (
      applyOperation(next, op) &&
      someOrderFits(
        remaining.filter((o) => o !== op),
        next,
      )
    );
  });
}

function bruteForceLinearizable(history: readonly KvOperation[]): boolean {
  const ops = history.filter((op) => !(op.op === "get" && op.return === null));
  const optional = ops.filter((op) => op.return === null);
  for (let mask = 0; mask < 1 << optional.length; mask++) {
    const left = new Set(optional.filter((_, bit) => (mask >> bit) & 1));
    if (
      someOrderFits(
        ops.filter((op) => !left.has(op)),
        new Map(),
      )
    )
      return true;
  }
  return false;
}

const smallConcurrentOperation = fc
  .record({
    kind: fc.constantFrom<KvOperation["op"]>("put", "get", "delete", "cas"),
    key: fc.constantFrom("a", "a", "b"),
    value: fc.constantFrom("x", "y"),
    expect: fc.constantFrom(null, "x", "y"),
    output: fc.constantFrom(null, "x", "y"),
    ok: fc.constantFrom(true, false, null),
    client: fc.integer({ min: 0, max: 3 }),
    call: fc.integer({ min: 0, max: 20 }),
    duration: fc.integer({ min: 0, max: 10 }),
    unknown: fc.boolean(),
  })
  .map((r): KvOperation => {
    const known = !r.unknown || r.kind === "get";
    const writes = r.kind === "put" || r.kind === "cas";
    return {
      client: r.client,
      op: r.kind,
      key: r.key,
      value: writes ? r.value : null,
      expect: r.kind === "cas" ? r.expect : null,
      ok: r.kind === "cas" && known ? r.ok : null,
      output: r.kind === "get" ? r.output : null,
      call: r.call,
      return: known ? r.call + r.duration : null,
    };
  });

describe("checkKvHistory against a brute-force checker", () => {
  it("agrees on small concurrent histories", () => {
    const seen = { linearizable: 0, notLinearizable: 0 };
    fc.assert(
      fc.property(fc.array(smallConcurrentOperation, { maxLength: 7 }), (history) => {
        const expected = bruteForceLinearizable(history);
        assertVerdict(
          checkKvHistory(history),
          expected ? "linearizable" : "not-linearizable",
          history,
        );
        if (expected) seen.linearizable++;
        else seen.notLinearizable++;
      }),
      { numRuns: 2000 },
    );
    // Guards against a generator that only ever makes one kind of history.
    assert.ok(seen.linearizable > 200, `only ${seen.linearizable} linearizable histories`);
    assert.ok(seen.notLinearizable > 200, `only ${seen.notLinearizable} non-linearizable ones`);
  });
});

// ---------------------------------------------------------------------------------------------

const anyOperation = fc.record<KvOperation>({
  client: fc.integer({ min: 0, max: 1000 }),
  op: fc.constantFrom("put", "get", "delete", "cas"),
  key: fc.string(),
  value: fc.string(),
  expect: fc.option(fc.string(), { nil: null }),
  ok: fc.constantFrom(true, false, null),
  output: fc.option(fc.string(), { nil: null }),
  call: fc.nat(),
  return: fc.constant(null),
});

const validOperation = fc
  .tuple(anyOperation, fc.option(fc.nat(), { nil: null }))
  .map(([op, duration]) => ({ ...op, return: duration === null ? null : op.call + duration }));

describe("JSON Lines histories", () => {
  it("round-trip through format and parse", () => {
    fc.assert(
      fc.property(fc.array(validOperation, { maxLength: 20 }), (history) => {
        assert.deepEqual(parseHistoryJsonLines(formatHistoryJsonLines(history)), history);
      }),
    );
  });

  it("reads the documented format, ignoring blank lines and unknown fields", () => {
    const text =
      '{"client": 3, "op": "cas", "key": "k7", "value": "v123", "expect": null, "ok": true, "output": null, "call": 5, "return": 9}\n' +
      "\n" +
      '{"client": 4, "op": "get", "key": "k7", "value": null, "expect": null, "ok": null, "output": "v123", "call": 10, "return": null, "node": 2}\n';
    const history = parseHistoryJsonLines(text);
    assert.equal(history.length, 2);
    assert.deepEqual(history[0], cas(3, "k7", null, "v123", true, 5, 9));
    assert.deepEqual(history[1], { ...get(4, "k7", "v123", 10, null), ok: null });
  });

  it("names the line and the field that is wrong", () => {
    const good = formatHistoryJsonLines([put(1, "k", "a", 0, 10)]);
    const withLine = (bad: string) => `${good}\n${bad}\n`;
    const line = JSON.parse(good) as Record<string, unknown>;
    const broken = (field: string, value: unknown) => JSON.stringify({ ...line, [field]: value });
    const { call: _call, ...missingCall } = line;
    assert.throws(
      () => parseHistoryJsonLines(withLine("{not json")),
      /^Error: line 3: not valid JSON/,
    );
    assert.throws(
      () => parseHistoryJsonLines(withLine(JSON.stringify(missingCall))),
      /line 3: field "call" is missing/,
    );
    assert.throws(() => parseHistoryJsonLines(withLine(broken("ok", "yes"))), /line 3: field "ok"/);
    assert.throws(
      () => parseHistoryJsonLines(withLine(broken("op", "append"))),
      /line 3: field "op"/,
    );
    assert.throws(
      () => parseHistoryJsonLines(withLine(broken("client", 1.5))),
      /line 3: field "client"/,
    );
    assert.throws(() => parseHistoryJsonLines(withLine(broken("key", 7))), /line 3: field "key"/);
    assert.throws(
      () => parseHistoryJsonLines(withLine(broken("return", -1))),
      /line 3: field "return"/,
    );
    assert.throws(
      () => parseHistoryJsonLines(withLine(broken("value", null))),
      /line 3: field "value"/,
    );
    assert.throws(() => parseHistoryJsonLines(withLine("[1, 2]")), /line 3: field "\(operation\)"/);
  });
});
