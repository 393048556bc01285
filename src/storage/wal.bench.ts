// Micro-benchmark of the WAL hot path: append + sync of batches of 100-byte entries, one Raft
// Ready per sync. Run: node --import tsx src/storage/wal.bench.ts
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Entry, EntryType } from "../raft/index.ts";
import { Wal } from "./wal.ts";

const DURATION_MS = 2000;
const ENTRY_BYTES = 100;

async function run(batchEntries: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "qmesh-wal-bench-"));
  try {
    const { wal } = await Wal.open(dir);
    const data = new Uint8Array(ENTRY_BYTES).fill(7);
    const batch: Entry[] = [];
    for (let i = 0; i < batchEntries; i++)
      batch.push({ index: 0, term: 1, type: EntryType.Normal, data });
    let nextIndex = 1;
    let appends = 0;
    const started = performance.now();
    while (performance.now() - started < DURATION_MS) {
      // Fresh entry objects per Ready, as the Raft core hands them out.
      for (let i = 0; i < batchEntries; i++) batch[i] = { ...batch[i]!, index: nextIndex + i };
      nextIndex += batchEntries;
      wal.append(batch, { term: 1, vote: 1, commit: nextIndex - 1 });
      await wal.sync();
      appends += batchEntries;
    }
    const seconds = (performance.now() - started) / 1000;
    const latencies = wal.takeSyncLatenciesUs().sort((a, b) => a - b);
    const median = latencies[Math.floor(latencies.length / 2)] ?? 0;
    await wal.close();
    console.log(
      `batch ${String(batchEntries).padStart(3)}: ${Math.round(appends / seconds)} entries/s, ` +
        `${Math.round(latencies.length / seconds)} fdatasyncs/s, median fdatasync ${median} µs`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const batchEntries of [1, 64, 256]) await run(batchEntries);
