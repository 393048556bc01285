// int64 fields arrive as decimal strings (see proto.ts). qmesh's revisions, versions and lease
// ids are below 2^53; a larger value is clamped, which keeps its meaning for every use here (a
// revision past the store is a future revision, a lease id past 2^53 is a lease that does not
// exist, a limit past 2^53 is no limit).
export function int64(value: string | number | undefined): number {
  if (value === undefined || value === "" || value === "0" || value === 0) return 0;
  const n = typeof value === "number" ? value : Number(value);
  if (Number.isSafeInteger(n)) return n;
  if (Number.isNaN(n)) return 0;
  return n > 0 ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
}
