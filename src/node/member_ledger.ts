// This member's ledger: one leaf per committed entry that reaches the state machine, appended in
// the apply batch's own LMDB transaction (an ApplyHook), so the tree and the state commit or
// fail together and a crash can never leave one ahead of the other.
import type { ApplyHook, ApplyResult, MvccStore } from "../kv/index.ts";
import { LeafEncoder, type LeafKind, LedgerTree } from "../ledger/index.ts";

/** What the log entry says; the outcome comes from the state machine. */
export interface LeafSource {
  readonly kind: LeafKind;
  readonly index: number;
  readonly term: number;
  readonly proposer: number;
  readonly request: Uint8Array;
}

const LEDGER_DB = "ledger";

/** The checkpoint origin line (C2SP tlog-checkpoint): names the cluster whose log this is. */
export function ledgerOrigin(clusterId: string): string {
  return `qmesh/cluster/${clusterId}`;
}

export class LedgerOffError extends Error {
  override name = "LedgerOffError";
}

export class MemberLedger {
  readonly tree: LedgerTree;
  private readonly encoder = new LeafEncoder();

  /** `enabled` false (--ledger false) appends nothing: only to measure what the ledger costs. */
  constructor(
    kv: MvccStore,
    readonly enabled = true,
  ) {
    this.tree = new LedgerTree(kv.sideDatabase(LEDGER_DB));
    kv.onReopen(() => this.tree.rebind(kv.sideDatabase(LEDGER_DB)));
    // A ledger with a hole in it proves nothing: the setting must hold for the data's whole life.
    if (!enabled && this.tree.size > 0) {
      throw new LedgerOffError(
        `--ledger false: this data directory's ledger already has ${this.tree.size} leaves, ` +
          "and skipping entries would leave a gap in it; start with --ledger true",
      );
    }
    if (enabled && this.tree.size === 0 && kv.appliedIndex > 0 && kv.revision > 1) {
      throw new LedgerOffError(
        `--ledger true: this data directory applied ${kv.appliedIndex} entries with the ledger ` +
          "off, so its ledger would start mid-history; keep --ledger false for it, or start a " +
          "new data directory",
      );
    }
  }

  /** Refuses ledger queries when the ledger is off, saying so. */
  check(): LedgerTree {
    if (!this.enabled) {
      throw new LedgerOffError(
        "the ledger is off on this member (started with --ledger false): it has no leaves, " +
          "checkpoints or proofs",
      );
    }
    return this.tree;
  }

  /**
   * The hook for one apply batch: `sources[i]` is item i's entry (null: an empty entry, which
   * is no write and gets no leaf); `leafIndexes[i]` receives the index of its leaf.
   */
  batch(
    sources: readonly (LeafSource | null)[],
    leafIndexes: (number | null)[],
  ): ApplyHook | undefined {
    if (!this.enabled) return undefined;
    return {
      applied: (position, result, revisionBefore) => {
        const source = sources[position];
        if (source === null || source === undefined) return;
        leafIndexes[position] = this.append(source, result, revisionBefore);
      },
      finish: () => this.tree.finish(),
      done: (committed) => (committed ? this.tree.committed() : this.tree.rollback()),
    };
  }

  private append(source: LeafSource, result: ApplyResult | null, revisionBefore: number): number {
    const rejected =
      result !== null && "error" in result ? `${result.error.code}: ${result.error.message}` : null;
    const revision = result?.revision ?? revisionBefore;
    const leaf = this.encoder.encode({
      kind: source.kind,
      index: source.index,
      term: source.term,
      proposer: source.proposer,
      revision,
      rejected,
      request: source.request,
    });
    return this.tree.append(leaf, rejected === null && revision > revisionBefore ? revision : null);
  }
}
