// The ledger's cost where it is paid: the apply path. The same 100-byte puts are applied in
// batches of 8 and of 64 (a member's apply batches range about so under load) to a store with
// and without the ledger hook (alternated rounds), in-process, so the figure is per entry and free
// of network and client noise.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ApplyItem, encodeCommand, MvccStore } from "../src/kv/index.ts";
import { LeafKind } from "../src/ledger/index.ts";
import { type LeafSource, MemberLedger } from "../src/node/member_ledger.ts";

const ENTRIES = 50_000;
const BATCHES = [8, 64];
const VALUE = new Uint8Array(100).fill(7);

function commands(): Uint8Array[] {
  return Array.from({ length: ENTRIES }, (_, i) =>
    encodeCommand({
      op: "put",
      key: new TextEncoder().encode(`key/${(i * 7919) % 10_000}`),
      value: VALUE,
      lease: 0,
      prevKv: false,
      ignoreValue: false,
      ignoreLease: false,
    }),
  );
}

/** µs per applied entry, with or without the ledger. */
async function applyRun(
  withLedger: boolean,
  payloads: readonly Uint8Array[],
  batch: number,
): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "qmesh-ledger-apply-"));
  const kv = MvccStore.open(dir);
  const ledger = new MemberLedger(kv, {
    enabled: withLedger,
    origin: "bench",
    onEvents: () => {},
  });
  try {
    const start = performance.now();
    for (let from = 0; from < payloads.length; from += batch) {
      const items: ApplyItem[] = [];
      const sources: LeafSource[] = [];
      for (let i = from; i < Math.min(from + batch, payloads.length); i++) {
        items.push({ index: i + 1, command: payloads[i]! });
        sources.push({
          kind: LeafKind.Kv,
          index: i + 1,
          term: 1,
          proposer: 1,
          request: payloads[i]!,
        });
      }
      const leafIndexes = new Array<number | null>(items.length).fill(null);
      kv.apply(items, 0, ledger.batch(sources, leafIndexes));
    }
    return ((performance.now() - start) * 1000) / payloads.length;
  } finally {
    await kv.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchApplyPath(out: (line: string) => void): Promise<void> {
  const payloads = commands();
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[1]!;
  for (const batch of BATCHES) {
    const on: number[] = [];
    const off: number[] = [];
    for (const withLedger of [true, false, false, true, true, false]) {
      (withLedger ? on : off).push(await applyRun(withLedger, payloads, batch));
    }
    out(
      `apply path, ${ENTRIES} puts in batches of ${batch}: ${median(on).toFixed(2)} µs/entry with the ledger, ` +
        `${median(off).toFixed(2)} without (+${(median(on) - median(off)).toFixed(2)} µs, ×${(median(on) / median(off)).toFixed(2)}; medians of 3 alternated runs)`,
    );
  }
}
