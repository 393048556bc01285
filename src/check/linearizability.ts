// Linearizability checking in the style of porcupine: Wing & Gong's search with Lowe's
// improvements. The history is split into independent partitions (P-compositionality); each is
// searched depth-first over a doubly linked list of call and return events, linearizing one
// pending call at a time and backtracking at a return nobody could precede; the (linearized set,
// model state) pairs already explored are memoized so each is expanded once.
import type { CheckBudget, CheckVerdict, Model, Operation } from "./model.ts";

/**
 * Seconds of search at worst (a step costs 50-200 ns); histories of thousands of operations per
 * key need far fewer unless they hold many unknown-outcome writes that are read.
 */
export const DEFAULT_MAX_STEPS = 20_000_000;

/** Why a partition has no linearization, in terms a report can show. */
export interface Counterexample<State, Input, Output> {
  /** The operations of the partition that failed (e.g. one key's). */
  readonly partition: readonly Operation<Input, Output>[];
  /** The longest linearizable prefix the search found, in linearization order. */
  readonly longestPrefix: readonly Operation<Input, Output>[];
  /** The model state after that prefix. */
  readonly stateAfterPrefix: State;
  /** The operations that could have come next after that prefix, none of which fits. */
  readonly unplaceable: readonly Operation<Input, Output>[];
}

export interface OperationsCheck<State, Input, Output> {
  readonly verdict: CheckVerdict;
  /** Search steps spent, across partitions. */
  readonly steps: number;
  /** For `not-linearizable`. */
  readonly counterexample?: Counterexample<State, Input, Output>;
  /** For `unknown`: the partition being searched when the budget ran out. */
  readonly unfinishedPartition?: readonly Operation<Input, Output>[];
}

/** Checks that `ops` can be ordered, respecting real time, into a sequence `model` accepts. */
export function checkOperations<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  budget: CheckBudget = {},
): OperationsCheck<State, Input, Output> {
  ops.forEach(validateInterval);
  const maxSteps = budget.maxSteps ?? DEFAULT_MAX_STEPS;
  if (!(maxSteps >= 0)) throw new RangeError(`maxSteps must be a number >= 0, got ${maxSteps}`);
  const partitions = model.partition === undefined ? [ops] : model.partition(ops);
  let steps = 0;
  for (const partition of partitions) {
    const search = searchPartition(model, partition, maxSteps - steps);
    steps += search.steps;
    if (search.verdict === "not-linearizable") {
      return { verdict: search.verdict, steps, counterexample: search.counterexample! };
    }
    if (search.verdict === "unknown") {
      return { verdict: search.verdict, steps, unfinishedPartition: partition };
    }
  }
  return { verdict: "linearizable", steps };
}

function validateInterval(op: Operation<unknown, unknown>, index: number): void {
  if (!Number.isFinite(op.call)) {
    throw new RangeError(`operation ${index}: call time ${op.call} is not a finite number`);
  }
  // NaN fails this comparison too.
  if (!(op.return >= op.call)) {
    throw new RangeError(
      `operation ${index}: return time ${op.return} is before its call ${op.call}`,
    );
  }
}

interface PartitionSearch<State, Input, Output> {
  verdict: CheckVerdict;
  steps: number;
  counterexample?: Counterexample<State, Input, Output>;
}

const HEAD = 0;
const NONE = -1;

/**
 * The events of a partition as a doubly linked list over typed arrays. Slot 0 is the head;
 * slot 1 + i is op i's call and slot 1 + n + i its return.
 */
interface EventList {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** The operation each slot belongs to. */
  readonly op: Int32Array;
  /** For a call slot, its return slot; NONE for a return slot. */
  readonly match: Int32Array;
  /** The event slots in time order, as first linked. */
  readonly order: Int32Array;
}

function buildEventList(ops: readonly Operation<unknown, unknown>[]): EventList {
  const n = ops.length;
  const slotCount = 2 * n + 1;
  const order = new Int32Array(2 * n);
  const times = new Float64Array(slotCount);
  for (let i = 0; i < n; i++) {
    order[i] = 1 + i;
    order[n + i] = 1 + n + i;
    times[1 + i] = ops[i]!.call;
    times[1 + n + i] = ops[i]!.return;
  }
  // At equal times calls come first, so operations that merely touch count as concurrent.
  order.sort((a, b) => times[a]! - times[b]! || Number(a > n) - Number(b > n) || a - b);
  const list: EventList = {
    next: new Int32Array(slotCount).fill(NONE),
    prev: new Int32Array(slotCount).fill(NONE),
    op: new Int32Array(slotCount),
    match: new Int32Array(slotCount).fill(NONE),
    order,
  };
  for (let i = 0; i < n; i++) {
    list.op[1 + i] = i;
    list.op[1 + n + i] = i;
    list.match[1 + i] = 1 + n + i;
  }
  let previous = HEAD;
  for (const slot of order) {
    list.next[previous] = slot;
    list.prev[slot] = previous;
    previous = slot;
  }
  return list;
}

/** Unlinks a call and its return: the operation is linearized. */
function lift(list: EventList, call: number): void {
  const { next, prev } = list;
  next[prev[call]!] = next[call]!;
  prev[next[call]!] = prev[call]!; // a call is always followed by at least its return
  const ret = list.match[call]!;
  next[prev[ret]!] = next[ret]!;
  if (next[ret] !== NONE) prev[next[ret]!] = prev[ret]!;
}

/** Relinks what `lift` unlinked, in reverse order, since each slot kept its own links. */
function unlift(list: EventList, call: number): void {
  const { next, prev } = list;
  const ret = list.match[call]!;
  next[prev[ret]!] = ret;
  if (next[ret] !== NONE) prev[next[ret]!] = ret;
  next[prev[call]!] = call;
  prev[next[call]!] = call;
}

/** murmur3's finalizer: a well-spread 32-bit hash of a small integer. */
function mix32(value: number): number {
  let h = value | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * The (linearized set, state) pairs already explored: an open-addressing hash table over flat
 * typed arrays, so that recording a pair allocates nothing but the occasional doubling.
 */
class MemoTable<State> {
  private readonly words: number;
  /** Entry i's set is words [i * words, (i + 1) * words). */
  private sets: Uint32Array;
  private readonly states: State[] = [];
  private hashes: Int32Array;
  /** Slots hold an entry index + 1; 0 is empty. At most half full. */
  private slots: Int32Array;
  private count = 0;

  constructor(
    private readonly model: Model<State, unknown, unknown>,
    setWords: number,
    operationCount: number,
  ) {
    // A linearizable history usually needs about one entry per operation.
    const capacity = 1 << Math.max(6, Math.ceil(Math.log2(operationCount + 1)));
    this.words = setWords;
    this.sets = new Uint32Array(capacity * setWords);
    this.hashes = new Int32Array(capacity);
    this.slots = new Int32Array(capacity * 2);
  }

  /** Records the pair and tells whether it is new. */
  insert(linearized: Uint32Array, linearizedHash: number, state: State): boolean {
    const hash = linearizedHash ^ mix32(this.model.hash(state));
    const mask = this.slots.length - 1;
    let slot = hash & mask;
    for (let entry = this.slots[slot]! - 1; entry >= 0; entry = this.slots[slot]! - 1) {
      if (this.hashes[entry] === hash && this.sameSet(entry, linearized)) {
        if (this.model.equal(this.states[entry]!, state)) return false;
      }
      slot = (slot + 1) & mask;
    }
    this.append(linearized, hash, state);
    this.slots[slot] = this.count;
    if (this.count * 2 > this.slots.length) this.growSlots();
    return true;
  }

  private sameSet(entry: number, linearized: Uint32Array): boolean {
    const offset = entry * this.words;
    for (let i = 0; i < this.words; i++) {
      if (this.sets[offset + i] !== linearized[i]) return false;
    }
    return true;
  }

  private append(linearized: Uint32Array, hash: number, state: State): void {
    if (this.count === this.hashes.length) {
      const hashes = new Int32Array(this.hashes.length * 2);
      hashes.set(this.hashes);
      this.hashes = hashes;
      const sets = new Uint32Array(this.sets.length * 2);
      sets.set(this.sets);
      this.sets = sets;
    }
    this.sets.set(linearized, this.count * this.words);
    this.hashes[this.count] = hash;
    this.states.push(state);
    this.count++;
  }

  private growSlots(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    const mask = this.slots.length - 1;
    for (let entry = 0; entry < this.count; entry++) {
      let slot = this.hashes[entry]! & mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
      this.slots[slot] = entry + 1;
    }
  }
}

/** The deepest point the search reached, kept for the report. */
interface DeepestPoint<State> {
  depth: number;
  calls: Int32Array;
  state: State;
}

/**
 * The search proper, one loop with no allocation per step but the memo's occasional growth:
 * `entry` walks the pending events; a call whose step fits (and leads to a pair not seen before)
 * is linearized and the walk restarts; a return means its call could not be linearized in this
 * branch, so the latest linearization is undone and the walk resumes after it.
 */
function searchPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  maxSteps: number,
): PartitionSearch<State, Input, Output> {
  const n = ops.length;
  const list = buildEventList(ops);
  const inputs = ops.map((op) => op.input);
  const outputs = ops.map((op) => op.output);
  const linearized = new Uint32Array(Math.ceil(n / 32));
  const memo = new MemoTable(model as Model<State, unknown, unknown>, linearized.length, n);
  // Zobrist hashing: the set's hash is the XOR of its members' codes, updated in O(1).
  const codes = new Int32Array(n);
  for (let i = 0; i < n; i++) codes[i] = mix32(i + 0x632be5ab);
  const stackCalls = new Int32Array(n);
  const stackStates = new Array<State>(n);
  const deepest: DeepestPoint<State> = { depth: 0, calls: new Int32Array(n), state: model.init() };
  // Copied when the search first backs off a new deepest point, not at each step down to it.
  let deepestUnrecorded = false;
  let state = deepest.state;
  let linearizedHash = 0;
  let depth = 0;
  let steps = 0;
  let entry = list.next[HEAD]!;
  while (list.next[HEAD] !== NONE) {
    if (steps++ >= maxSteps) return { verdict: "unknown", steps: steps - 1 };
    const op = list.op[entry]!;
    if (list.match[entry] !== NONE) {
      const result = model.step(state, inputs[op]!, outputs[op]!);
      if (result.ok) {
        const nextState = result.state;
        linearized[op >>> 5]! ^= 1 << (op & 31);
        linearizedHash ^= codes[op]!;
        if (memo.insert(linearized, linearizedHash, nextState)) {
          stackCalls[depth] = entry;
          stackStates[depth] = state;
          depth++;
          state = nextState;
          lift(list, entry);
          if (depth > deepest.depth) {
            deepest.depth = depth;
            deepestUnrecorded = true;
          }
          entry = list.next[HEAD]!;
          continue;
        }
        linearized[op >>> 5]! ^= 1 << (op & 31);
        linearizedHash ^= codes[op]!;
      }
      entry = list.next[entry]!;
    } else {
      if (deepestUnrecorded) {
        recordDeepest(deepest, stackCalls, depth, state);
        deepestUnrecorded = false;
      }
      if (depth === 0) {
        return { verdict: "not-linearizable", steps, counterexample: explain(ops, list, deepest) };
      }
      depth--;
      entry = stackCalls[depth]!;
      state = stackStates[depth]!;
      const undone = list.op[entry]!;
      linearized[undone >>> 5]! ^= 1 << (undone & 31);
      linearizedHash ^= codes[undone]!;
      unlift(list, entry);
      entry = list.next[entry]!;
    }
  }
  return { verdict: "linearizable", steps };
}

function recordDeepest<State>(
  deepest: DeepestPoint<State>,
  stackCalls: Int32Array,
  depth: number,
  state: State,
): void {
  for (let i = 0; i < depth; i++) deepest.calls[i] = stackCalls[i]!;
  deepest.depth = depth;
  deepest.state = state;
}

/**
 * At the deepest point every operation that could come next fails its step (one that fit would
 * have gone deeper): those are the calls before the first return still pending.
 */
function explain<State, Input, Output>(
  ops: readonly Operation<Input, Output>[],
  list: EventList,
  deepest: DeepestPoint<State>,
): Counterexample<State, Input, Output> {
  const prefix = Array.from(deepest.calls.subarray(0, deepest.depth), (call) => list.op[call]!);
  const placed = new Set(prefix);
  const unplaceable: Operation<Input, Output>[] = [];
  for (const slot of list.order) {
    const op = list.op[slot]!;
    if (placed.has(op)) continue;
    if (list.match[slot] === NONE) break;
    unplaceable.push(ops[op]!);
  }
  return {
    partition: ops,
    longestPrefix: prefix.map((op) => ops[op]!),
    stateAfterPrefix: deepest.state,
    unplaceable,
  };
}
