// Availability as the share of time writes succeeded: the windows are cut into slices of
// SLICE_NS, and a slice counts as available when at least one write was acknowledged in it.

const SLICE_NS = 500_000_000;

/** `windows` are [from, to) in monotonic ns; returns 1 when there is no time to measure. */
export function availability(
  successTimes: readonly number[],
  windows: readonly (readonly [number, number])[],
): number {
  const sorted = [...successTimes].sort((a, b) => a - b);
  let slices = 0;
  let available = 0;
  for (const [from, to] of windows) {
    for (let start = from; start < to; start += SLICE_NS) {
      const end = Math.min(to, start + SLICE_NS);
      slices++;
      if (firstAtOrAfter(sorted, start) < end) available++;
    }
  }
  return slices === 0 ? 1 : available / slices;
}

/** The first time in `sorted` at or after `time` (Infinity if none): a binary search. */
function firstAtOrAfter(sorted: readonly number[], time: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < time) low = middle + 1;
    else high = middle;
  }
  return sorted[low] ?? Number.POSITIVE_INFINITY;
}
