// The monitor against a cluster that rewrites its history and re-signs it with its own keys: an
// auditor that saw an older checkpoint must fail the consistency proof.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  consistencyProof,
  encodeLeaf,
  encodePublicLedgerKeys,
  generateLedgerKeys,
  hashLeaf,
  inclusionProof,
  LeafKind,
  MerkleAppender,
  type NewNode,
  publicLedgerKeys,
  signCheckpoint,
} from "../ledger/index.ts";
import type { Session } from "./client/session.ts";
import { auditCluster } from "./ledger_audit.ts";

const ORIGIN = "qmesh/cluster/audit";
const members = ["a", "b", "c"].map((name) => generateLedgerKeys(name, { mldsa: false }));

/** The RFC 9162 tree over `leaves`: each size's root, and the stored hashes proofs read. */
function treeOf(leaves: readonly Uint8Array[]) {
  const nodes = new Map<string, Uint8Array>();
  const appender = MerkleAppender.empty();
  const roots: Uint8Array[] = [];
  for (const leaf of leaves) {
    const created: NewNode[] = [];
    appender.append(hashLeaf(leaf), created);
    for (const node of created) nodes.set(`${node.level}/${node.index}`, node.hash);
    roots.push(appender.root());
  }
  const hashes = (level: number, index: number) => nodes.get(`${level}/${index}`)!;
  return {
    leaves,
    hashes,
    root: (n: number) => roots[n - 1]!,
    proof: (from: number, to: number) => consistencyProof(hashes, from, to),
  };
}

/** A log whose leaves are `prefix-0`, `prefix-1`, ...: a different prefix is another history. */
function history(prefix: string, size: number) {
  return treeOf(Array.from({ length: size }, (_, i) => new TextEncoder().encode(`${prefix}-${i}`)));
}

/** A fake cluster serving certified checkpoints of `sizes` in turn, from `logOf(size)`. */
function cluster(sizes: number[], logOf: (size: number) => ReturnType<typeof history>): Session {
  let call = 0;
  return {
    call: async (_service: string, method: string, request: Record<string, string>) => {
      if (method === "Checkpoint") {
        const size = sizes[Math.min(call++, sizes.length - 1)]!;
        const checkpoint = {
          origin: ORIGIN,
          size,
          rootHash: logOf(size).root(size),
          extensions: [],
        };
        const notes = members.map((keys) => signCheckpoint(keys, checkpoint, 1));
        const lines = notes.flatMap((note) => note.split("\n\n")[1]!.trimEnd().split("\n"));
        return {
          tree_size: String(size),
          signed_note: `${notes[0]!.split("\n\n")[0]}\n\n${lines.join("\n")}\n`,
          member_keys: members.map((keys) => encodePublicLedgerKeys(publicLedgerKeys(keys))),
        };
      }
      const to = Number(request.to_size);
      return {
        proof: logOf(to)
          .proof(Number(request.from_size), to)
          .map((h) => Buffer.from(h)),
      };
    },
  } as unknown as Session;
}

test("an honest log passes the audit, each checkpoint consistent with the last", async () => {
  const honest = history("put", 40);
  const lines: string[] = [];
  await auditCluster(
    cluster([5, 5, 12, 40], () => honest),
    {
      trusted: null,
      intervalMs: 1,
      durationMs: 1000,
      out: (line) => lines.push(line),
    },
  );
  assert.match(
    lines.join("\n"),
    /size 12 root [0-9a-f]{16} signed by a, b, c, consistent with size 5/,
  );
  assert.match(lines.join("\n"), /size 40 .*consistent with size 12/);
});

test("a rewritten history, re-signed by the members' own keys, fails against an older checkpoint", async () => {
  const original = history("put", 40);
  const rewritten = history("forged", 40);
  await assert.rejects(
    auditCluster(
      cluster([10, 30], (size) => (size <= 10 ? original : rewritten)),
      { trusted: null, intervalMs: 1, durationMs: 1000, out: () => {} },
    ),
    /AUDIT FAILED: the tree of size 30 \(root [0-9a-f]+\) does not extend the tree of size 10 .*history was rewritten/,
  );
});

test("a checkpoint that goes back, or is signed by keys other than the pinned ones, fails", async () => {
  const log = history("put", 40);
  await assert.rejects(
    auditCluster(
      cluster([20, 8], () => log),
      { trusted: null, intervalMs: 1, durationMs: 1000, out: () => {} },
    ),
    /went back from size 20 to 8/,
  );
  const others = ["a", "b", "c"].map((name) =>
    publicLedgerKeys(generateLedgerKeys(name, { mldsa: false })),
  );
  await assert.rejects(
    auditCluster(
      cluster([20], () => log),
      { trusted: others, intervalMs: 1, durationMs: 1000, keyChangeWaitMs: 50, out: () => {} },
    ),
    /AUDIT FAILED: checkpoint at size 20: .*a quorum is 2/,
  );
});

// A member rotating its keys: the monitor learns the new ones from the leaf that published them,
// proven in a tree the keys it pinned certified, and refuses a change the log does not prove.
const rotatedA = generateLedgerKeys("a", { mldsa: false });
const A_ID = 7;
const publicJson = (keys: (typeof members)[number]) =>
  encodePublicLedgerKeys(publicLedgerKeys(keys));

/** A log of `put-i` leaves whose leaf `at` is a MemberAttributes leaf of `request`. */
function logWithPublication(at: number, proposer: number, request: object, size = 40) {
  return treeOf(
    Array.from({ length: size }, (_, i) =>
      i === at
        ? encodeLeaf({
            kind: LeafKind.MemberAttributes,
            index: 100 + i,
            term: 1,
            proposer,
            revision: 5,
            rejected: null,
            request: new TextEncoder().encode(JSON.stringify(request)),
          })
        : new TextEncoder().encode(`put-${i}`),
    ),
  );
}

/** A log whose leaf `at` is a's own publication of its rotated keys. */
const rotationAt = (at: number) =>
  logWithPublication(at, A_ID, { id: A_ID, name: "a", ledgerKeys: publicJson(rotatedA) });

/** Checkpoints of `sizes` in turn; from `rotatedFrom` on, a signs with its new keys and the cluster lists them at `listedLeaf`. */
function rotatingCluster(
  sizes: number[],
  log: ReturnType<typeof logWithPublication>,
  rotatedFrom: number,
  listedLeaf: number,
  /** c's signature joins the first rotated checkpoint only when that size is asked again. */
  cLate = false,
): Session {
  let call = 0;
  return {
    call: async (_service: string, method: string, request: Record<string, string>) => {
      if (method === "Checkpoint") {
        const again = request.tree_size !== undefined;
        const size = again ? Number(request.tree_size) : sizes[Math.min(call++, sizes.length - 1)]!;
        const rotated = size >= rotatedFrom;
        const all = [rotated ? rotatedA : members[0]!, members[1]!, members[2]!];
        const signers = cLate && size === rotatedFrom && !again ? all.slice(0, 2) : all;
        const checkpoint = { origin: ORIGIN, size, rootHash: log.root(size), extensions: [] };
        const notes = signers.map((keys) => signCheckpoint(keys, checkpoint, 1));
        const lines = notes.flatMap((note) => note.split("\n\n")[1]!.trimEnd().split("\n"));
        return {
          tree_size: String(size),
          signed_note: `${notes[0]!.split("\n\n")[0]}\n\n${lines.join("\n")}\n`,
          member_keys: all.map(publicJson),
          member_key_leaves: [rotated ? String(listedLeaf) : "2", "3", "4"],
        };
      }
      if (method === "InclusionProof") {
        const index = Number(request.leaf_index);
        const size = Number(request.tree_size);
        return {
          leaf: Buffer.from(log.leaves[index]!),
          proof: inclusionProof(log.hashes, index, size).map((h) => Buffer.from(h)),
        };
      }
      const to = Number(request.to_size);
      return {
        proof: log.proof(Number(request.from_size), to).map((h) => Buffer.from(h)),
      };
    },
  } as unknown as Session;
}

const audit = async (session: Session) => {
  const lines: string[] = [];
  await auditCluster(session, {
    trusted: null,
    intervalMs: 1,
    durationMs: 1000,
    keyChangeWaitMs: 200,
    out: (line) => lines.push(line),
  });
  return lines.join("\n");
};

test("a member's rotated keys are pinned once a certified tree proves their publication", async () => {
  const log = rotationAt(25);
  const output = await audit(rotatingCluster([20, 30, 40], log, 30, 25));
  // At 30, a's new signature does not count (b and c are the quorum), and the change is proven.
  assert.match(output, /size 30 root [0-9a-f]+ signed by b, c, consistent with size 20/);
  assert.match(output, /a published new keys at leaf 25, in the tree of size 30 .*pinned them/);
  assert.match(output, /size 40 root [0-9a-f]+ signed by a, b, c, consistent with size 30/);
});

test("a checkpoint certified with the rotated member's new key is asked again until the pinned keys' signatures joined it", async () => {
  const log = rotationAt(25);
  const output = await audit(rotatingCluster([20, 30, 40], log, 30, 25, true));
  assert.match(output, /size 30 root [0-9a-f]+ signed by b, c, consistent with size 20/);
  assert.match(output, /a published new keys at leaf 25/);
});

test("a key change beyond the certified tree waits for a checkpoint that covers it", async () => {
  const log = rotationAt(35);
  const output = await audit(rotatingCluster([20, 30, 40], log, 30, 35));
  assert.match(output, /a lists new keys \(leaf 35\); they are pinned once a checkpoint/);
  assert.match(output, /a published new keys at leaf 35, in the tree of size 40/);
});

test("a key change the log does not prove fails the audit", async () => {
  const json = publicJson(rotatedA);
  // Published by another member (id 8) in a's name.
  const foreign = logWithPublication(25, 8, { id: A_ID, name: "a", ledgerKeys: json });
  await assert.rejects(
    audit(rotatingCluster([20, 30], foreign, 30, 25)),
    /AUDIT FAILED: a's new keys are not proven by the log: leaf 25 was proposed by another member/,
  );
  // The cluster points at a leaf that is a plain write.
  const honest = rotationAt(25);
  await assert.rejects(
    audit(rotatingCluster([20, 30], honest, 30, 24)),
    /leaf 24 is not an applied publication of member attributes/,
  );
  // The leaf publishes other keys than those listed.
  const other = publicJson(generateLedgerKeys("a", { mldsa: false }));
  const mismatch = logWithPublication(25, A_ID, { id: A_ID, name: "a", ledgerKeys: other });
  await assert.rejects(
    audit(rotatingCluster([20, 30], mismatch, 30, 25)),
    /leaf 25 publishes other keys than those listed for a/,
  );
  // The listed leaf is at or before the one that published the pinned keys.
  await assert.rejects(
    audit(rotatingCluster([20, 30], honest, 30, 1)),
    /leaf 1 comes before leaf 2, which published the keys pinned now/,
  );
});
