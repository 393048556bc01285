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

export class MemberLedger {
  readonly tree: LedgerTree;
  private readonly encoder = new LeafEncoder();

  constructor(kv: MvccStore) {
    this.tree = new LedgerTree(kv.sideDatabase(LEDGER_DB));
    kv.onReopen(() => this.tree.rebind(kv.sideDatabase(LEDGER_DB)));
  }

  /**
   * The hook for one apply batch: `sources[i]` is item i's entry (null: an empty entry, which
   * is no write and gets no leaf); `leafIndexes[i]` receives the index of its leaf.
   */
  batch(sources: readonly (LeafSource | null)[], leafIndexes: (number | null)[]): ApplyHook {
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
