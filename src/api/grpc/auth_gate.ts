// The AuthGate of a member: with auth enabled, every call must carry a valid `token` metadata
// value (etcd's clients send it there), and the token's user must hold the permissions the call
// needs. With auth disabled, everything passes and tokens are ignored, as in etcd.
import type * as grpc from "@grpc/grpc-js";
import { type AuthReader, type AuthUser, ROOT } from "../../kv/index.ts";
import { verifyToken } from "./auth_token.ts";
import type { AuthGate, KeyAccess } from "./context.ts";
import { EtcdErrors } from "./etcd_errors.ts";

export const TOKEN_METADATA = "token";

export class TokenAuthGate implements AuthGate {
  constructor(
    private readonly auth: AuthReader,
    private readonly nowMs: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.auth.enabled;
  }

  /** The calling user (auth must be enabled): etcd's user-empty / invalid-token errors. */
  caller(metadata: grpc.Metadata): AuthUser {
    const token = metadata.get(TOKEN_METADATA)[0];
    if (token === undefined || token === "") throw EtcdErrors.userEmpty;
    const secret = this.auth.secret;
    const claims = secret === undefined ? null : verifyToken(secret, String(token), this.nowMs());
    if (claims === null) throw EtcdErrors.invalidAuthToken;
    const user = this.auth.user(claims.user);
    // A deleted user, or a password changed (or user re-added) after issue, voids the token.
    if (user === undefined || claims.revision < user.tokenRevision) {
      throw EtcdErrors.invalidAuthToken;
    }
    return user;
  }

  checkKeys(metadata: grpc.Metadata, accesses: readonly KeyAccess[]): string {
    if (!this.auth.enabled) return "";
    const user = this.caller(metadata);
    for (const a of accesses) {
      if (!this.auth.permits(user, a.key, a.rangeEnd, a.write)) throw EtcdErrors.permissionDenied;
    }
    return user.name;
  }

  checkAdmin(metadata: grpc.Metadata): void {
    if (!this.auth.enabled) return;
    if (!this.caller(metadata).roles.includes(ROOT)) throw EtcdErrors.permissionDenied;
  }

  /** Admin, or a caller for whom `allowed` holds (UserGet of oneself, RoleGet of one's role). */
  checkAdminOr(metadata: grpc.Metadata, allowed: (user: AuthUser) => boolean): void {
    if (!this.auth.enabled) return;
    const user = this.caller(metadata);
    if (!user.roles.includes(ROOT) && !allowed(user)) throw EtcdErrors.permissionDenied;
  }
}
