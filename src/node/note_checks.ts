// Checking members' signed checkpoint notes before they are applied: a member shows its note to
// the others as it cosigns, and each checks the ML-DSA-65 signatures on its worker thread and
// keeps the verdicts, which apply then finds instead of spending ~3-5 ms of its batch on each
// (see MlDsaVerdicts in ledger/member_note.ts).
import { type MlDsaVerdicts, mlDsaChecks, type TrustedMember } from "../ledger/index.ts";
import type { NodeId } from "../raft/index.ts";
import type { MlDsaWorker } from "./mldsa_worker.ts";
import { encodePeerQuery } from "./peer_queries.ts";

/** How long a cosigning member waits for the others to have checked its note. */
const ANNOUNCE_TIMEOUT_MS = 500;

export interface NoteChecksOptions {
  readonly mldsa: MlDsaWorker | null;
  readonly verdicts: MlDsaVerdicts | undefined;
  /** The voters' registered keys now. */
  voterKeys(): TrustedMember[];
  /** The other members. */
  peers(): NodeId[];
  query(peer: NodeId, request: Uint8Array, timeoutMs: number): Promise<unknown>;
}

export class NoteChecks {
  constructor(private readonly options: NoteChecksOptions) {}

  /** Checks a note's ML-DSA-65 signatures on the worker and keeps the verdicts. Never rejects. */
  async check(note: string): Promise<void> {
    const { mldsa, verdicts, voterKeys } = this.options;
    if (mldsa === null || verdicts === undefined) return;
    for (const check of mlDsaChecks(note, voterKeys())) {
      if (verdicts.lookup(check) !== undefined) continue;
      try {
        verdicts.remember(
          check,
          await mldsa.verify(check.signature, check.message, check.publicKey),
        );
      } catch {
        // Apply verifies it itself.
      }
    }
  }

  /** Every member (this one too) checks the note before it is proposed; a down peer is skipped. */
  async announce(note: string): Promise<void> {
    const request = encodePeerQuery({ query: "note", note });
    await Promise.allSettled([
      this.check(note),
      ...this.options.peers().map((peer) => this.options.query(peer, request, ANNOUNCE_TIMEOUT_MS)),
    ]);
  }
}
