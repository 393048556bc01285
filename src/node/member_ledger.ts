// This member's ledger: one leaf per committed entry that reaches the state machine, appended in
// the apply batch's own LMDB transaction (an ApplyHook), so the tree and the state commit or
// fail together and a crash can never leave one ahead of the other.
//
// Checkpoints: the leader seals a size (a ledger entry), every voter signs the root it computed
// for that size and proposes its signed note (another ledger entry), and a size is certified once
// a quorum of voters signed the same root. What is sealed, signed and certified is replicated
// state, decided only from the entries and the registered keys; each member then compares the
// certified root with its own (see QmeshNode) — a mismatch means its ledger diverged.
import type { ApplyHook, ApplyResult, MvccStore } from "../kv/index.ts";
import {
  CheckpointStore,
  checkMemberNote,
  combineNotes,
  decodePublicLedgerKeys,
  equalBytes,
  LeafEncoder,
  LeafKind,
  LedgerTree,
  type MlDsaVerdicts,
  parseCheckpoint,
  parseNote,
  type TrustedMember,
} from "../ledger/index.ts";
import type { NodeId } from "../raft/index.ts";
import { decodeLedgerCommand, LedgerCommandError } from "./ledger_command.ts";

/** What the log entry says; the outcome comes from the state machine. */
export interface LeafSource {
  readonly kind: LeafKind;
  readonly index: number;
  readonly term: number;
  readonly proposer: number;
  readonly request: Uint8Array;
  /**
   * For ledger entries: the membership as of this entry in log order. Not as of the end of its
   * apply batch: batches split differently on each member, and the verdict must not.
   */
  readonly membership?: LedgerMembership;
}

/** The voters and their registered ledger keys at one point of the log. */
export interface LedgerMembership {
  readonly voters: readonly NodeId[];
  keysOf(id: NodeId): TrustedMember | undefined;
}

const trustedKeysCache = new Map<string, TrustedMember | null>();

/** A member's published ledger keys (encodePublicLedgerKeys), decoded once per value. */
export function trustedLedgerKeys(published: string | undefined): TrustedMember | undefined {
  if (published === undefined) return undefined;
  let keys = trustedKeysCache.get(published);
  if (keys === undefined) {
    try {
      keys = decodePublicLedgerKeys(published);
    } catch {
      keys = null;
    }
    if (trustedKeysCache.size > 1024) trustedKeysCache.clear();
    trustedKeysCache.set(published, keys);
  }
  return keys ?? undefined;
}

export type LedgerEvent =
  | { readonly type: "sealed"; readonly size: number }
  | { readonly type: "certified"; readonly size: number; readonly root: Uint8Array };

export interface MemberLedgerOptions {
  readonly enabled: boolean;
  readonly origin: string;
  /** After the batch that produced them committed. */
  readonly onEvents: (events: readonly LedgerEvent[]) => void;
  /** ML-DSA-65 verdicts reached before apply, for cosignatures (see MlDsaVerdicts). */
  readonly verdicts?: MlDsaVerdicts;
}

/** The name of the ledger's database in the member's LMDB environment. */
export const LEDGER_DB = "ledger";

/** The checkpoint origin line (C2SP tlog-checkpoint): names the cluster whose log this is. */
export function ledgerOrigin(clusterId: string): string {
  return `qmesh/cluster/${clusterId}`;
}

export class LedgerOffError extends Error {
  override name = "LedgerOffError";
}

export class MemberLedger {
  readonly tree: LedgerTree;
  readonly checkpoints: CheckpointStore;
  /** Leaves other than the ledger's own since the last seal: whether a seal has work to do. */
  unsealedLeaves = 0;
  private readonly encoder = new LeafEncoder();
  /** Where cosignatures' ML-DSA-65 verdicts reached before apply are kept. */
  readonly verdicts: MlDsaVerdicts | undefined;
  private events: LedgerEvent[] = [];

  constructor(
    kv: MvccStore,
    private readonly options: MemberLedgerOptions,
  ) {
    this.verdicts = options.verdicts;
    const db = kv.sideDatabase(LEDGER_DB);
    this.tree = new LedgerTree(db);
    this.checkpoints = new CheckpointStore(db);
    kv.onReopen(() => {
      const reopened = kv.sideDatabase(LEDGER_DB);
      this.tree.rebind(reopened);
      this.checkpoints.rebind(reopened);
    });
    // A ledger with a hole in it proves nothing: the setting must hold for the data's whole life.
    if (!options.enabled && this.tree.size > 0) {
      throw new LedgerOffError(
        `--ledger false: this data directory's ledger already has ${this.tree.size} leaves, ` +
          "and skipping entries would leave a gap in it; start with --ledger true",
      );
    }
    if (options.enabled && this.tree.size === 0 && kv.appliedIndex > 0 && kv.revision > 1) {
      throw new LedgerOffError(
        `--ledger true: this data directory applied ${kv.appliedIndex} entries with the ledger ` +
          "off, so its ledger would start mid-history; keep --ledger false for it, or start a " +
          "new data directory",
      );
    }
    const sealed = this.checkpoints.latestSealedSize();
    this.unsealedLeaves = this.tree.size - (sealed ?? 0);
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  /** Refuses ledger queries when the ledger is off, saying so. */
  check(): LedgerTree {
    if (!this.options.enabled) {
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
    if (!this.options.enabled) return undefined;
    const unsealedBefore = this.unsealedLeaves;
    return {
      applied: (position, result, revisionBefore) => {
        const source = sources[position];
        if (source === null || source === undefined) return;
        leafIndexes[position] = this.append(source, result, revisionBefore);
      },
      finish: () => this.tree.finish(),
      done: (committed) => {
        const events = this.events;
        this.events = [];
        if (!committed) {
          this.tree.rollback();
          this.unsealedLeaves = unsealedBefore;
          return;
        }
        this.tree.committed();
        if (events.length > 0) this.options.onEvents(events);
      },
    };
  }

  private append(source: LeafSource, result: ApplyResult | null, revisionBefore: number): number {
    let rejected: string | null;
    if (source.kind === LeafKind.Ledger) {
      rejected = this.applyLedgerCommand(source);
    } else {
      rejected =
        result !== null && "error" in result
          ? `${result.error.code}: ${result.error.message}`
          : null;
      this.unsealedLeaves++;
    }
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
    return this.tree.append(leaf);
  }

  /** Applies a seal or a cosignature; returns why it was refused, or null. */
  private applyLedgerCommand(source: LeafSource): string | null {
    let command: ReturnType<typeof decodeLedgerCommand>;
    try {
      command = decodeLedgerCommand(source.request);
    } catch (error) {
      if (!(error instanceof LedgerCommandError)) throw error;
      return `malformed ledger entry: ${error.message}`;
    }
    if ("seal" in command) {
      // The checkpoint covers every leaf before the seal's own.
      const size = this.tree.size;
      if (size === 0) return "nothing to seal";
      this.checkpoints.recordSeal(size, this.tree.appendedRoot());
      this.unsealedLeaves = 0;
      this.events.push({ type: "sealed", size });
      return null;
    }
    if (source.membership === undefined) {
      throw new Error(`ledger entry ${source.index} reached the ledger without its membership`);
    }
    return this.applyCosignature(source.proposer, command.cosign, source.membership);
  }

  private applyCosignature(
    signer: NodeId,
    note: string,
    membership: LedgerMembership,
  ): string | null {
    const { origin } = this.options;
    const { voters } = membership;
    if (!voters.includes(signer)) return `member ${signer.toString(16)} is not a voter`;
    const keys = membership.keysOf(signer);
    if (keys === undefined) return `member ${signer.toString(16)} has no registered ledger keys`;
    const checked = checkMemberNote(note, keys, this.options.verdicts);
    if (typeof checked === "string") return `cosignature refused: ${checked}`;
    const { size, origin: signedOrigin, rootHash } = checked.checkpoint;
    if (signedOrigin !== origin) return `cosignature for origin ${signedOrigin}, not ${origin}`;
    if (this.checkpoints.sealedRoot(size) === undefined) return `size ${size} was never sealed`;
    this.checkpoints.recordMemberNote(size, signer, note);
    const agreeing = this.checkpoints
      .memberNotes(size)
      .filter(({ member, note }) => {
        if (!voters.includes(member)) return false;
        return equalBytes(parseCheckpoint(parseNote(note).text).rootHash, rootHash);
      })
      .map(({ note }) => note);
    if (this.checkpoints.certifiedNote(size) !== undefined) {
      // A late signer joins the certified note: an auditor whose pinned keys predate another
      // member's key rotation needs every old key that signed, not just the first quorum.
      this.checkpoints.certify(size, combineNotes(agreeing));
    } else if (agreeing.length >= Math.floor(voters.length / 2) + 1) {
      this.checkpoints.certify(size, combineNotes(agreeing));
      this.events.push({ type: "certified", size, root: rootHash });
    }
    return null;
  }
}
