// Key-range permission checks (etcd's range_perm_cache): a request's range must be covered by
// the union of the caller's permission ranges of the needed kind.
import { compareBytes } from "./bytes.ts";
import type { Permission } from "./types.ts";

/** [start, end); end null = no upper bound (range_end "\0"). */
interface Interval {
  start: Uint8Array;
  end: Uint8Array | null;
}

function interval(key: Uint8Array, rangeEnd: Uint8Array): Interval {
  if (rangeEnd.length === 0) {
    // One key: [key, key + "\0").
    const end = new Uint8Array(key.length + 1);
    end.set(key);
    return { start: key, end };
  }
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start: key, end: null };
  return { start: key, end: rangeEnd };
}

/** a >= b, where null is +infinity. */
function atLeast(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null) return true;
  if (b === null) return false;
  return compareBytes(a, b) >= 0;
}

function isEmpty(i: Interval): boolean {
  return i.end !== null && compareBytes(i.start, i.end) >= 0;
}

/** READ (0) and READWRITE (2) grant reads; WRITE (1) and READWRITE grant writes. */
function grants(p: Permission, write: boolean): boolean {
  return p.type === 2 || p.type === (write ? 1 : 0);
}

/** Whether `permissions` together grant `write` (or read) access to all of [key, rangeEnd). */
export function permits(
  permissions: readonly Permission[],
  key: Uint8Array,
  rangeEnd: Uint8Array,
  write: boolean,
): boolean {
  const wanted = interval(key, rangeEnd);
  // An empty or inverted request range is refused, as etcd's isValidPermissionRange does.
  if (isEmpty(wanted)) return false;
  const held = permissions
    .filter((p) => grants(p, write))
    .map((p) => interval(p.key, p.rangeEnd))
    .filter((i) => !isEmpty(i))
    .sort((a, b) => compareBytes(a.start, b.start));
  let covered: Uint8Array | null = wanted.start;
  for (const i of held) {
    if (covered === null) break;
    if (compareBytes(i.start, covered) > 0) break;
    if (!atLeast(covered, i.end)) covered = i.end;
    if (atLeast(covered, wanted.end)) return true;
  }
  return atLeast(covered, wanted.end);
}
