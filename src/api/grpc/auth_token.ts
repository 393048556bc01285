// Auth tokens any member can verify: `<user>.<authRevision>.<expiryMs>.<mac>` where user and mac
// are base64url and mac = HMAC-SHA256(secret, the first three parts). The secret is chosen by the
// member that proposed AuthEnable and lives in the replicated auth state, so a token issued by one
// member is good on every other (etcd's "simple" tokens only work on the member that issued them).
import { createHmac, timingSafeEqual } from "node:crypto";

/** etcd's simple-token TTL (simpleTokenTTLDefault = 300 s in server/auth/simple_token.go; flag
 * --auth-token-ttl). etcd slides it on every use; ours is fixed from issue, and etcd's clients
 * re-authenticate on "invalid auth token" either way. */
export const TOKEN_TTL_MS = 300_000;

export interface TokenClaims {
  user: string;
  /** The auth revision when the token was issued: a later password change voids it. */
  revision: number;
  expiresAtMs: number;
}

function mac(secret: Uint8Array, body: string): Buffer {
  return createHmac("sha256", secret).update(body).digest();
}

export function issueToken(secret: Uint8Array, claims: TokenClaims): string {
  const user = Buffer.from(claims.user).toString("base64url");
  const body = `${user}.${claims.revision}.${claims.expiresAtMs}`;
  return `${body}.${mac(secret, body).toString("base64url")}`;
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

/** The claims of a well-signed, unexpired token; null for anything else. */
export function verifyToken(secret: Uint8Array, token: string, nowMs: number): TokenClaims | null {
  const parts = token.split(".");
  if (parts.length !== 4) return null;
  const [user, revision, expiry, signature] = parts as [string, string, string, string];
  if (!DECIMAL.test(revision) || !DECIMAL.test(expiry)) return null;
  const expected = mac(secret, `${user}.${revision}.${expiry}`);
  const given = Buffer.from(signature, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const claims = {
    user: Buffer.from(user, "base64url").toString(),
    revision: Number(revision),
    expiresAtMs: Number(expiry),
  };
  return claims.expiresAtMs > nowMs ? claims : null;
}
