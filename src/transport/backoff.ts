/** Reconnect delays: doubling from `initialMs` up to `maxMs`, each spread ±50% by `random`. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly random: () => number,
    private readonly initialMs = 50,
    private readonly maxMs = 2000,
  ) {}

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    // Jitter keeps members that lost each other at the same moment from redialling in lockstep.
    return Math.round(base * (0.5 + this.random()));
  }

  reset(): void {
    this.attempt = 0;
  }
}
