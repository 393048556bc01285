// The monitor against a cluster that rewrites its history and re-signs it with its own keys: an
// auditor that saw an older checkpoint must fail the consistency proof.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  consistencyProof,
  encodePublicLedgerKeys,
  generateLedgerKeys,
  hashLeaf,
  MerkleAppender,
  type NewNode,
  publicLedgerKeys,
  signCheckpoint,
} from "../ledger/index.ts";
import type { Session } from "./client/session.ts";
import { auditCluster } from "./ledger_audit.ts";

const ORIGIN = "qmesh/cluster/audit";
const members = ["a", "b", "c"].map((name) => generateLedgerKeys(name, { mldsa: false }));

/** A log whose leaves are `prefix-0`, `prefix-1`, ...: a different prefix is another history. */
function history(prefix: string, size: number) {
  const nodes = new Map<string, Uint8Array>();
  const appender = MerkleAppender.empty();
  const roots: Uint8Array[] = [];
  for (let i = 0; i < size; i++) {
    const created: NewNode[] = [];
    appender.append(hashLeaf(new TextEncoder().encode(`${prefix}-${i}`)), created);
    for (const node of created) nodes.set(`${node.level}/${node.index}`, node.hash);
    roots.push(appender.root());
  }
  return {
    root: (n: number) => roots[n - 1]!,
    proof: (from: number, to: number) =>
      consistencyProof((level, index) => nodes.get(`${level}/${index}`)!, from, to),
  };
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
      { trusted: others, intervalMs: 1, durationMs: 1000, out: () => {} },
    ),
    /AUDIT FAILED: checkpoint at size 20: .*a quorum is 2/,
  );
});
