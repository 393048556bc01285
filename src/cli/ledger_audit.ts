// qmesh ledger audit: a monitor. It follows a live cluster's certified checkpoints and checks that
// each new one is signed by a quorum of the pinned keys and extends the previous one it saw (a
// consistency proof to the signed roots, not to what the server says the roots are).
import { CommanderError } from "commander";
import {
  decodePublicLedgerKeys,
  type TrustedMember,
  verifyCheckpoint,
  verifyConsistency,
} from "../ledger/index.ts";
import type { Session } from "./client/session.ts";

export interface AuditOptions {
  /** Keys to trust; null: those the first checkpoint lists, pinned from then on. */
  readonly trusted: TrustedMember[] | null;
  readonly intervalMs: number;
  readonly durationMs: number | null;
  out(line: string): void;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex").slice(0, 16);

function fail(message: string): CommanderError {
  return new CommanderError(1, "qmesh.ledger", `AUDIT FAILED: ${message}`);
}

export async function auditCluster(session: Session, options: AuditOptions): Promise<void> {
  let trusted = options.trusted;
  let last: { size: number; root: Uint8Array } | null = null;
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
        trusted = (reply.member_keys as string[]).map((k) => decodePublicLedgerKeys(k));
        options.out(`pinned the keys of ${trusted.map((t) => t.name).join(", ")}`);
      }
      const quorum = Math.floor(trusted.length / 2) + 1;
      let verified: Awaited<ReturnType<typeof verifyCheckpoint>>;
      try {
        verified = await verifyCheckpoint(reply.signed_note, trusted, quorum);
      } catch (error) {
        throw fail(`checkpoint at size ${reply.tree_size}: ${(error as Error).message}`);
      }
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
      }
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
}
