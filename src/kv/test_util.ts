// Helpers for the kv tests: temp stores and terse command builders.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prefixEnd as prefixEndOf } from "./bytes.ts";
import { encodeCommand } from "./command.ts";
import { MvccStore } from "./mvcc_store.ts";
import type {
  ApplyResult,
  Command,
  Compare,
  DeleteRangeCommand,
  PutCommand,
  RequestOp,
  TxnCommand,
} from "./types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
export const b = (s: string): Uint8Array => enc.encode(s);
export const s = (u: Uint8Array): string => dec.decode(u);
export const ALL = Uint8Array.of(0);

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "qmesh-kv-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A store in a fresh temp dir, applying commands at consecutive indexes. */
export class TestStore {
  next = 1;
  constructor(
    readonly store: MvccStore,
    readonly dir: string,
  ) {}

  static create(): TestStore {
    const { dir } = tempDir();
    return new TestStore(MvccStore.open(join(dir, "db")), dir);
  }

  run(c: Command, nowMs?: number): ApplyResult {
    const r = this.store.apply([{ index: this.next++, command: encodeCommand(c) }], nowMs)[0];
    if (r == null) throw new Error("skipped");
    return r;
  }

  async close(): Promise<void> {
    await this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function put(key: string, value: string, opts: Partial<PutCommand> = {}): PutCommand {
  return {
    op: "put",
    key: b(key),
    value: b(value),
    lease: 0,
    prevKv: false,
    ignoreValue: false,
    ignoreLease: false,
    ...opts,
  };
}

export function del(key: string, rangeEnd = "", prevKv = false): DeleteRangeCommand {
  return { op: "deleteRange", key: b(key), rangeEnd: b(rangeEnd), prevKv };
}

export function txn(
  compare: Compare[],
  success: RequestOp[],
  failure: RequestOp[] = [],
): TxnCommand {
  return { op: "txn", compare, success, failure };
}

/** The first key after every key with this prefix (etcd's prefix rangeEnd). */
export function prefixEnd(prefix: string): Uint8Array {
  return prefixEndOf(b(prefix));
}

export function ok(r: ApplyResult | null | undefined): ApplyResult & { response: unknown } {
  if (r == null || !("response" in r))
    throw new Error(`expected success, got ${JSON.stringify(r)}`);
  return r;
}
