// Password hashes of the auth store: scrypt (node:crypto) with a random 16-byte salt, stored as
// the text "scrypt$<log2 N>$<r>$<p>$<salt>$<hash>" (base64url). The proposing member hashes before
// proposing, so the Raft log and the store only ever hold this text, never a password.
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

export interface ScryptCost {
  log2N: number;
  r: number;
  p: number;
}

/**
 * N = 2^15, r = 8, p = 1: 32 MiB and a few tens of ms per hash on one core, the same order as
 * etcd's default bcrypt cost 10 (--bcrypt-cost), which is what makes a stolen store slow to attack.
 */
export const DEFAULT_SCRYPT_COST: ScryptCost = { log2N: 15, r: 8, p: 1 };

const KEY_BYTES = 32;
/** Refuse stored parameters beyond this: a damaged hash must not make a member allocate GiBs. */
const MAX_LOG2_N = 20;

function derive(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  const N = 2 ** cost.log2N;
  return new Promise((resolve, reject) => {
    // Async: runs on libuv's pool, so a login never blocks the member's event loop.
    scrypt(
      password,
      salt,
      KEY_BYTES,
      { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r + 1024 * 1024 },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

export async function hashPassword(
  password: string,
  cost: ScryptCost = DEFAULT_SCRYPT_COST,
): Promise<Uint8Array> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, cost);
  const text = [
    "scrypt",
    cost.log2N,
    cost.r,
    cost.p,
    salt.toString("base64url"),
    key.toString("base64url"),
  ].join("$");
  return new TextEncoder().encode(text);
}

/** False for a wrong password and for a hash it cannot read (never throws on bad input). */
export async function verifyPassword(password: string, stored: Uint8Array): Promise<boolean> {
  const parts = new TextDecoder().decode(stored).split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [log2N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const valid = (n: number, max: number) => Number.isInteger(n) && n >= 1 && n <= max;
  if (!valid(log2N, MAX_LOG2_N) || !valid(r, 32) || !valid(p, 16)) return false;
  const salt = Buffer.from(parts[4]!, "base64url");
  const expected = Buffer.from(parts[5]!, "base64url");
  if (expected.length !== KEY_BYTES) return false;
  const key = await derive(password, salt, { log2N, r, p });
  return timingSafeEqual(key, expected);
}
