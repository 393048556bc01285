// Publishing this member's client URL (and name) through the log, as etcd's publish does, until
// the member's own registry shows it applied.
//
// A follower's proposal is forwarded to the leader fire-and-forget: a peer link that is down or
// redialling drops it (typical at startup, when the leader came up after this member's first
// dials failed), and a leader that loses its term may lose it too. Nothing tells the proposer;
// its request only times out (REQUEST_TIMEOUT_MS). Waiting for that timeout before publishing
// again left the member without a client URL in everyone's member list for the whole timeout,
// once more for each retry that was dropped as well. So the publish is repeated on a short
// backoff (from an election timeout up to the request timeout) while the registry does not show
// it, and at once when a new leader is known. Applying it twice is harmless.
import type { NodeId } from "../raft/index.ts";

/** What the registry shows for this member: not listed (yet), published, or still to publish. */
export type PublishState = "absent" | "current" | "stale";

export interface PublisherOptions {
  /** The first retry delay; it doubles per attempt up to `maxRetryMs`. */
  readonly retryMs: number;
  readonly maxRetryMs: number;
  state(): PublishState;
  /** Proposes the attributes; may throw (stopping) or reject (dropped, timed out). */
  propose(): Promise<unknown>;
  now(): number;
  warn(message: string): void;
}

export class ClientUrlPublisher {
  private lastAttemptMs = Number.NEGATIVE_INFINITY;
  private delayMs: number;

  constructor(private readonly options: PublisherOptions) {
    this.delayMs = options.retryMs;
  }

  /** A new leader: publish at once, a proposal forwarded to the previous one may be lost. */
  leaderChanged(leader: NodeId): void {
    this.delayMs = this.options.retryMs;
    if (leader !== 0 && this.options.state() === "stale") this.attempt();
  }

  /** Called every tick: publishes again when the last attempt has not shown up in time. */
  tick(leader: NodeId): void {
    // Absent: a member added by MemberAdd is listed once its conf change is applied here.
    if (leader === 0 || this.options.state() !== "stale") return;
    if (this.options.now() - this.lastAttemptMs < this.delayMs) return;
    if (this.lastAttemptMs !== Number.NEGATIVE_INFINITY) {
      this.delayMs = Math.min(2 * this.delayMs, this.options.maxRetryMs);
    }
    this.attempt();
  }

  private attempt(): void {
    this.lastAttemptMs = this.options.now();
    let proposal: Promise<unknown>;
    try {
      proposal = this.options.propose();
    } catch (error) {
      this.options.warn(
        `publishing the client URL failed, will retry: ${(error as Error).message}`,
      );
      return;
    }
    proposal.catch((error: Error) => {
      // A later attempt may have made it already; only a publish still missing is news.
      if (this.options.state() === "stale") {
        this.options.warn(`publishing the client URL failed, will retry: ${error.message}`);
      }
    });
  }
}
