// qmesh ledger verify --data-dir D: a stopped member's ledger, recomputed from its own data.
//   1. the stored tree is re-derived from its leaves (any changed leaf or node is found);
//   2. the leaves are replayed into a fresh store, whose state must hash to the member's (a value
//      changed directly in the member's LMDB file is found: the ledger no longer explains it);
//   3. every applied entry still in the WAL must be what its leaf recorded (a WAL record changed
//      with its CRC recomputed is found);
//   4. every certified checkpoint's signatures are checked against the members' registered keys
//      (for a member that rotated its keys, the set the log shows it signed with), and its root
//      against the recomputed tree.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ApplyItem, MvccStore } from "../kv/index.ts";
import {
  CheckpointStore,
  COSIGNATURE_ALGORITHMS,
  cosignatureKeyId,
  decodeLeaf,
  decodePublicLedgerKeys,
  equalBytes,
  type Leaf,
  LeafKind,
  LedgerTree,
  memberPublicKey,
  parseNote,
  type TrustedMember,
  verifyCheckpoint,
  verifyStoredTree,
} from "../ledger/index.ts";
import { ContractGuard } from "../node/contract_guard.ts";
import { dataDirLayout } from "../node/data_dir.ts";
import { LEDGER_DB } from "../node/member_ledger.ts";
import { decodeMemberInfo, type MemberInfo, MemberRegistry } from "../node/members.ts";
import { MEMBERS_META_KEY } from "../node/raft_member.ts";
import { decodeConfChange } from "../raft/index.ts";
import { checkWalAgainstLedger } from "./ledger_wal.ts";

export interface VerifyOutput {
  out(line: string): void;
  /** Progress, redrawn in place (stderr). */
  progress(text: string): void;
}

const REPLAY_BATCH = 1000;

function bar(what: string, done: number, total: number): string {
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
  return `\r${what} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${percent}% ${done}/${total}`;
}

export async function verifyDataDir(dataDir: string, io: VerifyOutput): Promise<boolean> {
  const layout = dataDirLayout(dataDir);
  if (!existsSync(join(layout.kv, "data.mdb"))) {
    io.out(
      `${dataDir} holds no member state (${layout.kv}/data.mdb is missing): is it a qmesh data directory?`,
    );
    return false;
  }
  const kv = MvccStore.open(layout.kv);
  try {
    const db = kv.sideDatabase(LEDGER_DB);
    const tree = new LedgerTree(db);
    const size = tree.committedTreeSize;
    if (size === 0) {
      io.out(`${dataDir} has no ledger (started with --ledger false?): nothing to verify`);
      return false;
    }
    let ok = true;
    const started = performance.now();
    const tick = progressEvery(io, "tree  ", size);
    const treeCheck = verifyStoredTree(tree, tick);
    io.progress("\n");
    for (const problem of treeCheck.problems) io.out(`TREE: ${problem.message}`);
    ok &&= treeCheck.problems.length === 0;
    const treeSeconds = (performance.now() - started) / 1000;
    io.out(
      `tree: ${size} leaves re-hashed in ${treeSeconds.toFixed(1)} s ` +
        `(${Math.round(size / treeSeconds)} leaves/s): ${treeCheck.problems.length === 0 ? "matches its leaves" : "DOES NOT match its leaves"}`,
    );
    const stored = kv.getMeta(MEMBERS_META_KEY);
    const keyHistory = new KeyHistory(
      stored === undefined ? [] : MemberRegistry.decode(stored).list(),
    );
    if (treeCheck.problems.length === 0) ok = (await replay(kv, tree, io, keyHistory)) && ok;
    const wal = await checkWalAgainstLedger(layout.wal, tree, kv.appliedIndex);
    for (const problem of wal.problems.slice(0, 20)) io.out(`WAL: ${problem}`);
    io.out(
      `wal: ${wal.entries} applied entries still in the WAL ` +
        (wal.problems.length === 0
          ? "match their leaves"
          : `, ${wal.problems.length} DO NOT match their leaves`),
    );
    ok &&= wal.problems.length === 0;
    ok = (await checkCertified(kv, tree, new CheckpointStore(db), keyHistory, io)) && ok;
    io.out(
      ok
        ? `OK: the ledger of ${dataDir} verifies`
        : `FAILED: the ledger of ${dataDir} does not verify`,
    );
    return ok;
  } finally {
    await kv.close();
  }
}

function progressEvery(io: VerifyOutput, what: string, total: number) {
  let last = 0;
  return (done: number) => {
    const now = performance.now();
    if (now - last < 100 && done < total) return;
    last = now;
    io.progress(bar(what, done, total));
  };
}

/**
 * Every set of ledger keys each key name had, in log order: the member registry rebuilt from the
 * membership and attribute leaves by the members' own rules (MemberRegistry).
 */
class KeyHistory {
  private readonly registry: MemberRegistry;
  readonly versions = new Map<string, TrustedMember[]>();

  /** `members`: the member's registry now; the first members come from flags, not leaves. */
  constructor(members: readonly MemberInfo[]) {
    this.registry = new MemberRegistry(
      members.map(({ ledgerKeys: _keys, ledgerKeysIndex: _index, ...addresses }) => addresses),
    );
  }

  note(leaf: Leaf): void {
    if (leaf.rejected !== null) return;
    if (leaf.kind === LeafKind.Membership) {
      this.registry.applyConfChange(decodeConfChange(leaf.request));
    } else if (leaf.kind === LeafKind.MemberAttributes) {
      const info = decodeMemberInfo(leaf.request);
      if (info === null) return;
      const before = this.registry.get(info.id)?.ledgerKeys;
      this.registry.publish(info, leaf.proposer, leaf.index);
      const after = this.registry.get(info.id)?.ledgerKeys;
      if (after === undefined || after === before) return;
      const keys = decodePublicLedgerKeys(after);
      this.versions.set(keys.name, [...(this.versions.get(keys.name) ?? []), keys]);
    }
  }
}

/**
 * For each member, the set of keys whose key ID a signature line of `note` names: a member that
 * rotated its keys signed older checkpoints with the set it had then.
 */
function keysSigning(note: string, members: TrustedMember[], history: KeyHistory): TrustedMember[] {
  let lines: readonly { name: string; keyId: number }[];
  try {
    lines = parseNote(note).signatures;
  } catch {
    return members;
  }
  return members.map((current) => {
    const ids = new Set(lines.filter((l) => l.name === current.name).map((l) => l.keyId));
    const versions = history.versions.get(current.name) ?? [];
    const signing = versions.find((keys) =>
      COSIGNATURE_ALGORITHMS.some((algorithm) => {
        const publicKey = memberPublicKey(keys, algorithm);
        return (
          publicKey !== undefined && ids.has(cosignatureKeyId(algorithm, keys.name, publicKey))
        );
      }),
    );
    return signing ?? current;
  });
}

/** Replays every leaf's request into an empty store; its state must equal the member's. */
async function replay(
  kv: MvccStore,
  tree: LedgerTree,
  io: VerifyOutput,
  keyHistory: KeyHistory,
): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), "qmesh-ledger-replay-"));
  // The same contract rules as a member, or a write a rule refused would be replayed as applied.
  const fresh = MvccStore.open(dir, { guard: new ContractGuard() });
  try {
    const size = tree.committedTreeSize;
    const tick = progressEvery(io, "replay", size);
    let items: ApplyItem[] = [];
    let done = 0;
    for (const { leaf } of tree.leaves(0, size)) {
      const decoded = decodeLeaf(leaf);
      keyHistory.note(decoded);
      items.push({
        index: decoded.index,
        command: decoded.kind === LeafKind.Kv ? decoded.request : null,
      });
      if (items.length === REPLAY_BATCH) {
        fresh.apply(items, 0);
        done += items.length;
        items = [];
        tick(done);
      }
    }
    // Entries with no leaf (a new leader's empty entry) change nothing but the applied index.
    if (kv.appliedIndex > (items.at(-1)?.index ?? fresh.appliedIndex)) {
      items.push({ index: kv.appliedIndex, command: null });
    }
    if (items.length > 0) fresh.apply(items, 0);
    tick(size);
    io.progress("\n");
    const same = fresh.hashState() === kv.hashState();
    io.out(
      same
        ? `state: replaying the ${size} leaves gives the member's state exactly (revision ${kv.revision})`
        : `STATE: replaying the ledger does not give the member's state (revision ${fresh.revision} ` +
            `replayed, ${kv.revision} stored): its data was changed outside the log`,
    );
    return same;
  } finally {
    await fresh.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function checkCertified(
  kv: MvccStore,
  tree: LedgerTree,
  checkpoints: CheckpointStore,
  keyHistory: KeyHistory,
  io: VerifyOutput,
): Promise<boolean> {
  const stored = kv.getMeta(MEMBERS_META_KEY);
  const trusted: TrustedMember[] = [];
  for (const member of stored === undefined ? [] : MemberRegistry.decode(stored).list()) {
    if (member.ledgerKeys !== undefined) trusted.push(decodePublicLedgerKeys(member.ledgerKeys));
  }
  let count = 0;
  let ok = true;
  /** Checkpoints where a member counted under keys it has rotated away from since. */
  let earlierKeys = 0;
  const quorum = Math.floor(trusted.length / 2) + 1;
  for (const { size, note } of checkpoints.certified()) {
    count++;
    try {
      const signing = keysSigning(note, trusted, keyHistory);
      const verified = await verifyCheckpoint(note, signing, quorum);
      if (signing.some((keys, i) => keys !== trusted[i] && verified.signers.includes(keys.name))) {
        earlierKeys++;
      }
      const root = tree.root(size);
      if (!equalBytes(root, verified.checkpoint.rootHash)) {
        io.out(`CHECKPOINT ${size}: certified root differs from the recomputed tree's root`);
        ok = false;
      }
    } catch (error) {
      io.out(`CHECKPOINT ${size}: ${(error as Error).message}`);
      ok = false;
    }
  }
  io.out(
    `checkpoints: ${count} certified, ${ok ? "every one" : "NOT every one"} signed by a quorum ` +
      `(${quorum} of ${trusted.length} members' keys) over the recomputed root` +
      (earlierKeys === 0 ? "" : `; ${earlierKeys} counted a member's keys from before a rotation`),
  );
  return ok;
}
