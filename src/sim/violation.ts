// A broken invariant. Each has a name so that a test can assert which one a bug breaks.

export type InvariantName =
  /** At most one leader per term. */
  | "election-safety"
  /** A vote or an append acknowledgement leaves only once the state it vouches for is durable. */
  | "durability"
  /** Two logs with an entry of the same index and term are identical up to it. */
  | "log-matching"
  /** Every entry committed before a term is in the log of that term's leader. */
  | "leader-completeness"
  /** Every member applies the same entry at each index (and reaches the same state). */
  | "state-machine-safety"
  /** Committed entries are handed out in index order, each exactly once. */
  | "apply-order"
  /** An acknowledged write is in every surviving member's applied sequence. */
  | "acknowledged-write-lost"
  /** The clients' history is linearizable (or the checker could not decide: "unknown"). */
  | "linearizability"
  /** After the faults heal, a leader is elected and every client completes an operation. */
  | "liveness"
  /** The core threw (a RaftInvariantError or another error escaping the core). */
  | "core-error";

export class InvariantViolation extends Error {
  override readonly name = "InvariantViolation";
  constructor(
    readonly invariant: InvariantName,
    readonly detail: string,
  ) {
    super(`${invariant}: ${detail}`);
  }
}
