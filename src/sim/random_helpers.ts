// Small helpers over the seeded generator; every choice in the simulator goes through one.
import type { SeededRandom } from "../raft/index.ts";

/** An integer in [low, high] (both inclusive). */
export function intBetween(random: SeededRandom, low: number, high: number): number {
  return low + random.nextInt(high - low + 1);
}

export function pick<T>(random: SeededRandom, items: readonly T[]): T {
  if (items.length === 0) throw new RangeError("pick from an empty list");
  return items[random.nextInt(items.length)]!;
}

/** Picks a key of `weights` with probability proportional to its (non-negative) weight. */
export function pickWeighted<K extends string>(
  random: SeededRandom,
  weights: Readonly<Record<K, number>>,
): K {
  const entries = Object.entries(weights) as [K, number][];
  let total = 0;
  for (const [, weight] of entries) total += weight;
  if (total <= 0) throw new RangeError("pickWeighted: every weight is zero");
  let target = random.nextFloat() * total;
  for (const [key, weight] of entries) {
    target -= weight;
    if (target < 0 && weight > 0) return key;
  }
  return entries.filter(([, weight]) => weight > 0).at(-1)![0];
}

/** A shuffled copy (Fisher–Yates). */
export function shuffled<T>(random: SeededRandom, items: readonly T[]): T[] {
  const copy = items.slice();
  for (let i = copy.length - 1; i > 0; i--) {
    const j = random.nextInt(i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
