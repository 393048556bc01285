// qmesh ledger audit: a monitor. It follows a live cluster's certified checkpoints and checks that
// each new one is signed by a quorum of the pinned keys and extends the previous one it saw (a
// consistency proof to the signed roots, not to what the server says the roots are). A member's
// new keys are pinned once they are proven to be in a certified tree (key_transcript.ts).
import { CommanderError } from "commander";
import {
  CheckpointVerificationError,
  decodePublicLedgerKeys,
  type TrustedMember,
  type VerifiedCheckpoint,
  verifyCheckpoint,
  verifyConsistency,
} from "../ledger/index.ts";
import type { Session } from "./client/session.ts";
import { type KeyPublication, provenKeyChange, sameKeys } from "./key_transcript.ts";

export interface AuditOptions {
  /** Keys to trust; null: those the first checkpoint lists, pinned from then on. */
  readonly trusted: TrustedMember[] | null;
  readonly intervalMs: number;
  readonly durationMs: number | null;
  /** How long to wait for pinned signatures while a member's new keys are not pinned yet. */
  readonly keyChangeWaitMs?: number;
  out(line: string): void;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex").slice(0, 16);

function fail(message: string): CommanderError {
  return new CommanderError(1, "qmesh.ledger", `AUDIT FAILED: ${message}`);
}

/** What the cluster lists: each voter's keys and the leaf that published them. */
function publicationsOf(reply: Record<string, unknown>): KeyPublication[] {
  const keys = (reply.member_keys ?? []) as string[];
  const leaves = (reply.member_key_leaves ?? []) as string[];
  return keys.map((json, i) => ({ keys: json, leafIndex: Number(leaves[i] ?? -1) }));
}

/**
 * The checkpoint, verified against the pinned keys. While a member's new keys are listed but
 * not pinned, a fresh certified note may hold too few pinned signatures (the rotated member's
 * counted towards the cluster's quorum); the other members' signatures join the note as they
 * are applied, so the same size is asked again for a while before the audit fails.
 */
async function verifyPinned(
  session: Session,
  first: Record<string, unknown>,
  trusted: TrustedMember[],
  quorum: number,
  options: AuditOptions,
): Promise<VerifiedCheckpoint> {
  const deadline = Date.now() + (options.keyChangeWaitMs ?? 10_000);
  let reply = first;
  for (;;) {
    try {
      return await verifyCheckpoint(reply.signed_note as string, trusted, quorum);
    } catch (error) {
      const waiting =
        error instanceof CheckpointVerificationError &&
        error.reason === "no-quorum" &&
        hasUnpinnedKeys(publicationsOf(reply), trusted);
      if (!waiting || Date.now() >= deadline) {
        throw fail(
          `checkpoint at size ${reply.tree_size}: ${(error as Error).message}` +
            (waiting ? " (after waiting for the signatures of members whose keys are pinned)" : ""),
        );
      }
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
    reply = await session.call("Ledger", "Checkpoint", { tree_size: reply.tree_size });
  }
}

function hasUnpinnedKeys(listed: readonly KeyPublication[], trusted: TrustedMember[]): boolean {
  return listed.some((publication) => {
    try {
      const keys = decodePublicLedgerKeys(publication.keys);
      const pinned = trusted.find((member) => member.name === keys.name);
      return pinned !== undefined && !sameKeys(pinned, keys);
    } catch {
      return false;
    }
  });
}

export async function auditCluster(session: Session, options: AuditOptions): Promise<void> {
  let trusted = options.trusted;
  let last: { size: number; root: Uint8Array } | null = null;
  /** The leaf that published each pinned member's keys, once known. */
  const pinnedAt = new Map<string, number>();
  /** Key changes already reported as waiting for a certified tree that covers them. */
  const waiting = new Set<string>();
  const until =
    options.durationMs === null ? Number.POSITIVE_INFINITY : Date.now() + options.durationMs;
  while (Date.now() < until) {
    const reply = await session.call("Ledger", "Checkpoint", { certified: true }).catch((error) => {
      if (String((error as Error).message).includes("no checkpoint has been certified"))
        return null;
      throw error;
    });
    if (reply !== null) {
      if (trusted === null) {
        const listed = publicationsOf(reply);
        trusted = listed.map((p) => decodePublicLedgerKeys(p.keys));
        for (const [i, p] of listed.entries()) pinnedAt.set(trusted[i]!.name, p.leafIndex);
        options.out(`pinned the keys of ${trusted.map((t) => t.name).join(", ")}`);
      }
      const quorum = Math.floor(trusted.length / 2) + 1;
      const verified = await verifyPinned(session, reply, trusted, quorum, options);
      const { size, rootHash } = verified.checkpoint;
      if (last !== null && size < last.size) {
        throw fail(`the certified tree went back from size ${last.size} to ${size}`);
      }
      if (last !== null && size > last.size) {
        const proof = await session.call("Ledger", "ConsistencyProof", {
          from_size: String(last.size),
          to_size: String(size),
        });
        const hashes = (proof.proof as Buffer[]).map((p) => new Uint8Array(p));
        if (!verifyConsistency(last.size, size, hashes, last.root, rootHash)) {
          throw fail(
            `the tree of size ${size} (root ${hex(rootHash)}) does not extend the tree of size ` +
              `${last.size} (root ${hex(last.root)}) seen before: history was rewritten`,
          );
        }
      }
      if (last === null || size > last.size) {
        options.out(
          `size ${size} root ${hex(rootHash)} signed by ${verified.signers.join(", ")}` +
            (last === null ? "" : `, consistent with size ${last.size}`),
        );
        last = { size, root: rootHash };
        trusted = await followKeyChanges(session, publicationsOf(reply), trusted, last, {
          pinnedAt,
          waiting,
          out: options.out,
        });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
}

/**
 * Pins the new keys of any member the cluster lists with keys other than the pinned ones, once
 * the leaf that published them is proven to be in `tree` (certified by the pinned keys). A
 * change that cannot be proven fails the audit; one beyond `tree` waits for a later checkpoint.
 */
async function followKeyChanges(
  session: Session,
  listed: readonly KeyPublication[],
  trusted: TrustedMember[],
  tree: { size: number; root: Uint8Array },
  state: { pinnedAt: Map<string, number>; waiting: Set<string>; out(line: string): void },
): Promise<TrustedMember[]> {
  const next = [...trusted];
  for (const publication of listed) {
    let keys: TrustedMember;
    try {
      keys = decodePublicLedgerKeys(publication.keys);
    } catch (error) {
      throw fail(`the cluster lists unreadable member keys: ${(error as Error).message}`);
    }
    const at = next.findIndex((member) => member.name === keys.name);
    if (at < 0 || sameKeys(next[at]!, keys)) continue;
    const { leafIndex } = publication;
    if (leafIndex < 0 || leafIndex >= tree.size) {
      if (!state.waiting.has(publication.keys)) {
        state.waiting.add(publication.keys);
        state.out(
          `${keys.name} lists new keys (leaf ${leafIndex < 0 ? "unknown" : leafIndex}); they are ` +
            `pinned once a checkpoint signed by the pinned keys covers that leaf`,
        );
      }
      continue;
    }
    const reply = await session.call("Ledger", "InclusionProof", {
      leaf_index: String(leafIndex),
      tree_size: String(tree.size),
    });
    const proven = {
      leaf: new Uint8Array(reply.leaf as Buffer),
      proof: (reply.proof as Buffer[]).map((p) => new Uint8Array(p)),
    };
    const known = state.pinnedAt.get(keys.name);
    try {
      next[at] = provenKeyChange(next[at]!, publication, proven, tree, known ?? null);
    } catch (error) {
      throw fail(`${keys.name}'s new keys are not proven by the log: ${(error as Error).message}`);
    }
    state.pinnedAt.set(keys.name, leafIndex);
    state.out(
      `${keys.name} published new keys at leaf ${leafIndex}, in the tree of size ${tree.size} ` +
        "that the pinned keys certified: pinned them",
    );
  }
  return next;
}
