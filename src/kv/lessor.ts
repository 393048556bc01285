// Leases (etcd's lessor). What a lease is (id, granted ttl, attached keys) is replicated and lives
// in LMDB; when it expires is an in-memory clock only the leader keeps. The leader turns expiry into
// a proposed leaseRevoke, so every member deletes the keys at the same log position.
import { LeaseNotFoundError, LeaseNotPrimaryError } from "./errors.ts";

/** The replicated lease state, read from the store. */
export interface LeaseState {
  leaseTtl(id: number): number | undefined;
  leaseIds(): number[];
  leaseKeys(id: number): Uint8Array[];
}

export interface LeaseTimeToLive {
  /** Remaining seconds (rounded down, never below 0); the granted ttl on a follower. */
  ttl: number;
  grantedTtl: number;
  keys: Uint8Array[];
}

export class Lessor {
  private readonly expiry = new Map<number, number>();
  private primary = false;
  private lastNowMs = 0;

  constructor(private readonly state: LeaseState) {}

  get isPrimary(): boolean {
    return this.primary;
  }

  /** Becoming leader: every lease gets a full ttl plus `extendMs`, so none expires at once
   * because the previous leader's keepalives could not be seen here. */
  promote(nowMs: number, extendMs: number): void {
    this.primary = true;
    this.lastNowMs = Math.max(this.lastNowMs, nowMs);
    this.expiry.clear();
    for (const id of this.state.leaseIds()) {
      this.expiry.set(id, nowMs + (this.state.leaseTtl(id) ?? 0) * 1000 + extendMs);
    }
  }

  demote(): void {
    this.primary = false;
    this.expiry.clear();
  }

  /** Renews the lease for its granted ttl; returns that ttl in seconds. */
  keepAlive(id: number, nowMs: number): number {
    if (!this.primary) throw new LeaseNotPrimaryError();
    const ttl = this.state.leaseTtl(id);
    if (ttl === undefined) throw new LeaseNotFoundError(id);
    // An expired lease is about to be revoked through the log: renewing it would race that
    // revoke (etcd waits for the revoke and then answers not found).
    const at = this.expiry.get(id);
    if (at !== undefined && at <= nowMs) throw new LeaseNotFoundError(id);
    this.lastNowMs = Math.max(this.lastNowMs, nowMs);
    this.expiry.set(id, nowMs + ttl * 1000);
    return ttl;
  }

  /** Leases past their expiry, soonest first (ties by id), at most `max`; empty on a follower. */
  expired(nowMs: number, max: number): number[] {
    if (!this.primary) return [];
    this.lastNowMs = Math.max(this.lastNowMs, nowMs);
    const out: Array<[number, number]> = [];
    for (const [id, at] of this.expiry) if (at <= nowMs) out.push([at, id]);
    out.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return out.slice(0, max).map(([, id]) => id);
  }

  timeToLive(id: number, nowMs: number): LeaseTimeToLive | null {
    const grantedTtl = this.state.leaseTtl(id);
    if (grantedTtl === undefined) return null;
    const at = this.expiry.get(id);
    const ttl =
      this.primary && at !== undefined ? Math.max(0, Math.floor((at - nowMs) / 1000)) : grantedTtl;
    return { ttl, grantedTtl, keys: this.state.leaseKeys(id) };
  }

  list(): number[] {
    return this.state.leaseIds();
  }

  /** Called by the store after a batch commits. */
  applied(
    granted: ReadonlyArray<{ id: number; ttl: number }>,
    revoked: readonly number[],
    nowMs?: number,
  ): void {
    for (const id of revoked) this.expiry.delete(id);
    if (!this.primary) return;
    const now = nowMs ?? this.lastNowMs;
    for (const { id, ttl } of granted) this.expiry.set(id, now + ttl * 1000);
  }

  /** After a snapshot restore: forget revoked leases, give unknown ones a full ttl. */
  restored(nowMs?: number): void {
    const ids = new Set(this.state.leaseIds());
    for (const id of this.expiry.keys()) if (!ids.has(id)) this.expiry.delete(id);
    if (!this.primary) return;
    const now = nowMs ?? this.lastNowMs;
    for (const id of ids) {
      if (!this.expiry.has(id)) this.expiry.set(id, now + (this.state.leaseTtl(id) ?? 0) * 1000);
    }
  }
}
