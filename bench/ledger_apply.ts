// The ledger's cost where it is paid: the apply path. The same 100-byte puts are applied in
// batches of 8 and of 64 (a member's apply batches range about so under load) to a store with
// and without the ledger hook (alternated rounds), in-process, so the figure is per entry and free
// of network and client noise. A third hook does only what any ledger of these leaves must do in
// apply (hash the leaf, hash about one tree node, put the leaf's record), with the leaves encoded
// beforehand: the distance from it to the real hook is what the ledger's own code adds.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ApplyHook, type ApplyItem, encodeCommand, MvccStore } from "../src/kv/index.ts";
import { encodeLeaf, LeafKind, NATIVE_HASHER } from "../src/ledger/index.ts";
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

type Hook = "ledger" | "none" | "floor";

function sourceOf(i: number, request: Uint8Array): LeafSource {
  return { kind: LeafKind.Kv, index: i + 1, term: 1, proposer: 1, request };
}

/** The floor hook: per entry, the member's two hashes and one put, laid out in a reused buffer. */
class FloorHook {
  private readonly db;
  private readonly record = Buffer.allocUnsafe(4096);
  private readonly key = Buffer.alloc(9);
  private previous: Uint8Array = new Uint8Array(32);

  constructor(
    kv: MvccStore,
    private readonly leaves: readonly Uint8Array[],
  ) {
    this.db = kv.sideDatabase("floor");
  }

  batch(from: number): ApplyHook {
    return {
      applied: (position) => this.append(from + position),
      finish: () => {},
      done: () => {},
    };
  }

  private append(index: number): void {
    const leaf = this.leaves[index]!;
    const leafHash = NATIVE_HASHER.leaf(leaf);
    this.previous = NATIVE_HASHER.children(this.previous, leafHash);
    this.record.set(leafHash, 0);
    this.record.set(leaf, leafHash.length);
    this.key.writeUInt32BE(index, 5);
    this.db.putSync(this.key, this.record.subarray(0, leafHash.length + leaf.length));
  }
}

/** µs per applied entry, with the given hook. */
async function applyRun(
  hook: Hook,
  payloads: readonly Uint8Array[],
  leaves: readonly Uint8Array[],
  batch: number,
): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "qmesh-ledger-apply-"));
  const kv = MvccStore.open(dir);
  const ledger = new MemberLedger(kv, {
    enabled: hook === "ledger",
    origin: "bench",
    onEvents: () => {},
  });
  const floor = hook === "floor" ? new FloorHook(kv, leaves) : undefined;
  try {
    const start = performance.now();
    for (let from = 0; from < payloads.length; from += batch) {
      const items: ApplyItem[] = [];
      const sources: LeafSource[] = [];
      for (let i = from; i < Math.min(from + batch, payloads.length); i++) {
        items.push({ index: i + 1, command: payloads[i]! });
        sources.push(sourceOf(i, payloads[i]!));
      }
      const leafIndexes = new Array<number | null>(items.length).fill(null);
      kv.apply(
        items,
        0,
        floor !== undefined ? floor.batch(from) : ledger.batch(sources, leafIndexes),
      );
    }
    return ((performance.now() - start) * 1000) / payloads.length;
  } finally {
    await kv.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchApplyPath(out: (line: string) => void): Promise<void> {
  const payloads = commands();
  // What the real hook encodes, with the revision each put gets in a fresh store.
  const leaves = payloads.map((request, i) =>
    encodeLeaf({ ...sourceOf(i, request), revision: i + 2, rejected: null }),
  );
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[1]!;
  const order: Hook[] = ["ledger", "none", "floor", "floor", "none", "ledger"];
  for (const batch of BATCHES) {
    const runs: Record<Hook, number[]> = { ledger: [], none: [], floor: [] };
    for (const hook of [...order, ...order.slice(0, 3)]) {
      runs[hook].push(await applyRun(hook, payloads, leaves, batch));
    }
    const [on, off, floor] = [median(runs.ledger), median(runs.none), median(runs.floor)];
    out(
      `apply path, ${ENTRIES} puts in batches of ${batch}: ${on.toFixed(2)} µs/entry with the ledger, ` +
        `${off.toFixed(2)} without (+${(on - off).toFixed(2)} µs, ×${(on / off).toFixed(2)}); ` +
        `the floor hook +${(floor - off).toFixed(2)} µs (medians of 3 alternated runs)`,
    );
  }
}
