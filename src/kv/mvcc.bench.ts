// Micro-benchmark: node --import tsx src/kv/mvcc.bench.ts
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeCommand } from "./command.ts";
import { MvccStore } from "./mvcc_store.ts";
import type { ApplyItem } from "./types.ts";

const enc = new TextEncoder();
const VALUE = new Uint8Array(100).fill(7);
const KEYS = 10_000;
const TOTAL = 50_000;

const dir = mkdtempSync(join(tmpdir(), "qmesh-kv-bench-"));
try {
  let index = 0;
  for (const batch of [1, 64, 256]) {
    const store = MvccStore.open(join(dir, `b${batch}`));
    const n = batch === 1 ? 10_000 : TOTAL;
    const cmds = Array.from({ length: n }, (_, i) =>
      encodeCommand({
        op: "put",
        key: enc.encode(`key/${(i * 7919) % KEYS}`),
        value: VALUE,
        lease: 0,
        prevKv: false,
        ignoreValue: false,
        ignoreLease: false,
      }),
    );
    const t0 = performance.now();
    for (let i = 0; i < n; i += batch) {
      const items: ApplyItem[] = [];
      for (let j = i; j < Math.min(n, i + batch); j++)
        items.push({ index: ++index, command: cmds[j]! });
      store.apply(items);
    }
    const ms = performance.now() - t0;
    console.log(`apply batch=${batch}: ${Math.round((n / ms) * 1000)} puts/s`);
    if (batch === 256) {
      const keys = Array.from({ length: 20_000 }, (_, i) => enc.encode(`key/${(i * 31) % KEYS}`));
      let t1 = performance.now();
      for (const key of keys) store.range({ key });
      console.log(
        `range single key (current): ${Math.round((keys.length / (performance.now() - t1)) * 1000)} gets/s`,
      );
      const past = store.revision - 5000;
      t1 = performance.now();
      for (const key of keys) store.range({ key, revision: past });
      console.log(
        `range single key (past rev): ${Math.round((keys.length / (performance.now() - t1)) * 1000)} gets/s`,
      );
      t1 = performance.now();
      for (let i = 0; i < 2000; i++)
        store.range({ key: enc.encode("key/1"), rangeEnd: enc.encode("key/2"), limit: 100 });
      console.log(
        `range prefix limit 100: ${Math.round((2000 / (performance.now() - t1)) * 1000)} ranges/s`,
      );
    }
    index = 0;
    await store.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
