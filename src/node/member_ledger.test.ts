import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type ApplyItem, MvccStore } from "../kv/index.ts";
import {
  decodeLeaf,
  generateLedgerKeys,
  LeafKind,
  type LedgerKeys,
  publicLedgerKeys,
  signCheckpoint,
} from "../ledger/index.ts";
import { encodeLedgerCommand, type LedgerCommand } from "./ledger_command.ts";
import { LedgerCheckpointer } from "./ledger_signing.ts";
import { type LeafSource, type LedgerEvent, MemberLedger } from "./member_ledger.ts";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const ORIGIN = "qmesh/cluster/test";
const keys = new Map<number, LedgerKeys>(
  [1, 2, 3, 4].map((id) => [id, generateLedgerKeys(`m${id}`, { mldsa: false })]),
);

const MEMBERSHIP = {
  voters: [1, 2, 3],
  keysOf: (id: number) => {
    const k = keys.get(id);
    return k === undefined ? undefined : publicLedgerKeys(k);
  },
};

function setup() {
  const dir = mkdtempSync(join(tmpdir(), "qmesh-member-ledger-"));
  dirs.push(dir);
  const kv = MvccStore.open(dir);
  const events: LedgerEvent[] = [];
  const ledger = new MemberLedger(kv, {
    enabled: true,
    origin: ORIGIN,
    onEvents: (batch) => events.push(...batch),
  });
  let index = 0;
  /** Applies entries as the log would hand them out; returns their leaves' indexes. */
  const apply = (entries: { kind: LeafKind; proposer: number; request: Uint8Array }[]) => {
    const items: ApplyItem[] = [];
    const sources: LeafSource[] = [];
    for (const entry of entries) {
      index++;
      items.push({ index, command: null });
      sources.push({ ...entry, index, term: 1, membership: MEMBERSHIP });
    }
    const leafIndexes: (number | null)[] = new Array(entries.length).fill(null);
    kv.apply(items, 0, ledger.batch(sources, leafIndexes));
    return leafIndexes;
  };
  const write = (n: number) =>
    apply(
      Array.from({ length: n }, (_, i) => ({
        kind: LeafKind.Kv,
        proposer: 1,
        request: Buffer.from(`put ${i}`),
      })),
    );
  const ledgerEntry = (proposer: number, command: LedgerCommand) =>
    apply([{ kind: LeafKind.Ledger, proposer, request: encodeLedgerCommand(command) }])[0]!;
  return { kv, ledger, events, apply, write, ledgerEntry };
}

function note(member: number, size: number, root: Uint8Array, origin = ORIGIN): string {
  return signCheckpoint(keys.get(member)!, { origin, size, rootHash: root, extensions: [] }, 1);
}

test("a seal, then a quorum of matching cosignatures, certifies the size", async () => {
  const { kv, ledger, events, write, ledgerEntry } = setup();
  write(5);
  ledgerEntry(1, { seal: true });
  assert.deepEqual(events, [{ type: "sealed", size: 5 }]);
  const root = ledger.checkpoints.sealedRoot(5)!;
  assert.deepEqual(root, ledger.tree.root(5));
  ledgerEntry(1, { cosign: note(1, 5, root) });
  assert.equal(ledger.checkpoints.certifiedNote(5), undefined, "one of three is no quorum");
  ledgerEntry(3, { cosign: note(3, 5, root) });
  const certified = ledger.checkpoints.certifiedNote(5)!;
  assert.match(certified, /^— m1 /m);
  assert.match(certified, /^— m3 /m);
  assert.equal(ledger.checkpoints.latestCertifiedSize(), 5);
  assert.deepEqual(events.at(-1), { type: "certified", size: 5, root });
  assert.doesNotMatch(certified, /^— m2 /m);
  // A late signer joins the certified note (an auditor may need its key), without a new event.
  const before = events.length;
  ledgerEntry(2, { cosign: note(2, 5, root) });
  assert.match(ledger.checkpoints.certifiedNote(5)!, /^— m2 /m);
  assert.match(ledger.checkpoints.certifiedNote(5)!, /^— m1 /m);
  assert.equal(events.length, before);
  await kv.close();
});

test("cosignatures that must not count are refused, and the refusal is a leaf with its reason", async () => {
  const { kv, ledger, write, ledgerEntry } = setup();
  write(3);
  ledgerEntry(1, { seal: true });
  const root = ledger.checkpoints.sealedRoot(3)!;
  const reason = (leaf: number) => decodeLeaf(ledger.tree.leaf(leaf)!).rejected;
  assert.match(reason(ledgerEntry(4, { cosign: note(4, 3, root) }))!, /is not a voter/);
  // Member 2's entry carrying member 3's signature: a member cannot sign for another.
  assert.match(reason(ledgerEntry(2, { cosign: note(3, 3, root) }))!, /no ed25519 signature by m2/);
  assert.match(reason(ledgerEntry(2, { cosign: note(2, 2, root) }))!, /size 2 was never sealed/);
  assert.match(
    reason(ledgerEntry(2, { cosign: note(2, 3, root, "elsewhere") }))!,
    /origin elsewhere/,
  );
  // One character of member 2's signature changed.
  const signed = note(2, 3, root);
  const at = signed.indexOf("— m2 ") + 20;
  const tampered = signed.slice(0, at) + (signed[at] === "A" ? "B" : "A") + signed.slice(at + 1);
  assert.match(reason(ledgerEntry(2, { cosign: tampered }))!, /signature by m2 does not verify/);
  assert.equal(ledger.checkpoints.certifiedNote(3), undefined, "none of those counted");
  await kv.close();
});

test("a member whose root differs from the quorum's is told, with the size", async () => {
  const { kv, ledger, events, write, ledgerEntry } = setup();
  write(4);
  ledgerEntry(1, { seal: true });
  const ours = ledger.checkpoints.sealedRoot(4)!;
  // The others signed another history of 4 leaves: this member's tree was rewritten.
  const theirs = Uint8Array.from(ours);
  theirs[0]! ^= 1;
  const diverged: string[] = [];
  const checkpointer = new LedgerCheckpointer({
    ledger,
    keys: keys.get(1)!,
    signMlDsa: () => Promise.reject(new Error("no ML-DSA in these tests")),
    origin: ORIGIN,
    intervalMs: 1000,
    maxLeaves: 10_000,
    isLeader: () => false,
    isVoter: () => false,
    propose: async () => {},
    announce: async () => {},
    now: () => 0,
    wallSeconds: () => 1,
    diverged: (message) => diverged.push(message),
    warn: () => {},
  });
  ledgerEntry(1, { cosign: note(1, 4, ours) });
  ledgerEntry(2, { cosign: note(2, 4, theirs) });
  ledgerEntry(3, { cosign: note(3, 4, theirs) });
  checkpointer.applied(events);
  assert.equal(diverged.length, 1);
  assert.match(diverged[0]!, /a quorum certified root [0-9a-f]{64} for tree size 4/);
  assert.match(diverged[0]!, /run `qmesh ledger verify`/);
  await kv.close();
});

test("the leader seals once the interval passed, or sooner after many leaves, and not when idle", async () => {
  const { kv, ledger, write } = setup();
  let now = 0;
  const proposed: LedgerCommand[] = [];
  const checkpointer = new LedgerCheckpointer({
    ledger,
    keys: keys.get(1)!,
    signMlDsa: () => Promise.reject(new Error("no ML-DSA in these tests")),
    origin: ORIGIN,
    intervalMs: 1000,
    maxLeaves: 50,
    isLeader: () => true,
    isVoter: () => true,
    propose: async (command) => {
      proposed.push(command);
    },
    announce: async () => {},
    now: () => now,
    wallSeconds: () => 1,
    diverged: () => {},
    warn: () => {},
  });
  checkpointer.tick();
  assert.equal(proposed.length, 0, "nothing to seal");
  write(3);
  now = 500;
  checkpointer.tick();
  assert.equal(proposed.length, 0, "before the interval");
  now = 1001;
  checkpointer.tick();
  assert.deepEqual(proposed, [{ seal: true }]);
  await new Promise((resolve) => setImmediate(resolve));
  write(60);
  now = 1100;
  checkpointer.tick();
  assert.equal(proposed.length, 2, "60 leaves waiting is past maxLeaves");
  await kv.close();
});
