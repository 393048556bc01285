// Key ranges as etcd's clients compute them.

/** The range end that selects every key with the given prefix (clientv3.GetPrefixRangeEnd). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: no key sorts after the prefix's keys, so the range runs to the end.
  return Buffer.from([0]);
}
