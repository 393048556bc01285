// How long the checker takes on a simulator-sized history: 1,000 operations over 5 keys from 8
// clients, each client issuing one operation at a time, with a few unknown outcomes.
// Run: node --import tsx src/check/linearizability.bench.ts
import { checkKvHistory, type KvOperation } from "./index.ts";

const OPERATION_COUNT = 1000;
const KEYS = ["k0", "k1", "k2", "k3", "k4"];
const CLIENT_COUNT = 8;
const UNKNOWN_OUTCOME_CHANCE = 0.03;
const SEEDS = [1, 2, 3, 4, 5];

/** mulberry32: a small seeded generator, so that every run checks the same histories. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Timed {
  op: KvOperation;
  /** When it takes effect, inside its interval. */
  effectNs: number;
}

/** Intervals first: each client runs its operations back to back with random latencies. */
function scheduleIntervals(random: () => number): Timed[] {
  const clientClockNs = new Array<number>(CLIENT_COUNT).fill(0);
  const timed: Timed[] = [];
  for (let i = 0; i < OPERATION_COUNT; i++) {
    const client = i % CLIENT_COUNT;
    const call = clientClockNs[client]! + Math.floor(random() * 50_000);
    const latencyNs = 10_000 + Math.floor(random() * 200_000);
    clientClockNs[client] = call + latencyNs;
    const op: KvOperation = {
      client,
      op: "get",
      key: KEYS[Math.floor(random() * KEYS.length)]!,
      value: null,
      expect: null,
      ok: null,
      output: null,
      call,
      return: call + latencyNs,
    };
    timed.push({ op, effectNs: call + Math.floor(random() * latencyNs) });
  }
  return timed.sort((a, b) => a.effectNs - b.effectNs);
}

/**
 * Then the operations themselves, executed in the order they take effect, and listed in call
 * order as a recorder appends them.
 */
function generateHistory(seed: number): KvOperation[] {
  const random = seededRandom(seed);
  const store = new Map<string, string>();
  const history = scheduleIntervals(random).map(({ op }, sequence): KvOperation => {
    const current = store.get(op.key) ?? null;
    const roll = random();
    const value = `c${op.client}.${sequence}`;
    const unknown = random() < UNKNOWN_OUTCOME_CHANCE;
    if (roll < 0.4) return { ...op, op: "get", ok: true, output: current };
    // An unknown outcome: half the time the write took effect, half the time it never did.
    const tookEffect = !unknown || random() < 0.5;
    const outcome = { return: unknown ? null : op.return };
    if (roll < 0.65) {
      if (tookEffect) store.set(op.key, value);
      return { ...op, ...outcome, op: "put", value, ok: unknown ? null : true };
    }
    if (roll < 0.8) {
      if (tookEffect) store.delete(op.key);
      return { ...op, ...outcome, op: "delete", ok: unknown ? null : true };
    }
    const expect = random() < 0.6 ? current : null;
    const matches = current === expect;
    if (tookEffect && matches) store.set(op.key, value);
    return { ...op, ...outcome, op: "cas", value, expect, ok: unknown ? null : matches };
  });
  return history.sort((a, b) => a.call - b.call);
}

/** The same history with its last read seeing a value nobody wrote: the search must exhaust. */
function withBadLastRead(history: KvOperation[]): KvOperation[] {
  const last = history.findLastIndex((op) => op.op === "get");
  return history.map((op, index) => (index === last ? { ...op, output: "never-written" } : op));
}

function measure(label: string, history: KvOperation[]): void {
  const unknown = history.filter((op) => op.return === null).length;
  console.time(label);
  const result = checkKvHistory(history);
  console.timeEnd(label);
  console.log(`  ${history.length} ops, ${unknown} unknown outcomes -> ${result.verdict}`);
}

const histories = SEEDS.map((seed) => {
  const history = generateHistory(seed);
  return { seed, history, bad: withBadLastRead(history) };
});
// Untimed passes first, so that the timed ones measure optimized code, as in a long sweep.
for (let pass = 0; pass < 10; pass++) {
  for (const { history, bad } of histories) {
    checkKvHistory(history);
    checkKvHistory(bad);
  }
}
console.log(`${OPERATION_COUNT} ops, ${KEYS.length} keys, ${CLIENT_COUNT} clients`);
for (const { seed, history, bad } of histories) {
  measure(`seed ${seed}, linearizable`, history);
  measure(`seed ${seed}, one bad read`, bad);
}
