// The public half of members' ledger keys, as the cluster publishes them and verifiers pin them:
// JSON with the key name and one C2SP vkey per algorithm. Browser-safe (no node:).
import {
  COSIGNATURE_ALGORITHMS,
  type CosignatureAlgorithm,
  formatCosignerKey,
  memberPublicKey,
  parseCosignerKey,
  type TrustedMember,
} from "./cosignature.ts";
import { quote } from "./encoding.ts";

export const PUBLIC_FORMAT = "qmesh-ledger-public-keys/v1";

export class LedgerKeysError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LedgerKeysError";
  }
}

/** The public form: the member's name and a vkey per algorithm; safe to publish. */
export function encodePublicLedgerKeys(member: TrustedMember): string {
  const record: Record<string, string> = { format: PUBLIC_FORMAT, name: member.name };
  for (const algorithm of COSIGNATURE_ALGORITHMS) {
    const publicKey = memberPublicKey(member, algorithm);
    if (publicKey !== undefined) {
      record[algorithm] = formatCosignerKey(algorithm, member.name, publicKey);
    }
  }
  return `${JSON.stringify(record, null, 2)}\n`;
}

export function parseRecord(json: string, format: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new LedgerKeysError(`ledger keys: not JSON (${(error as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new LedgerKeysError("ledger keys: not a JSON object");
  }
  const record = value as Record<string, unknown>;
  if (record.format !== format) {
    throw new LedgerKeysError(
      `ledger keys: format is ${quote(String(record.format))}, not ${format}`,
    );
  }
  const known = new Set<string>(["format", "name", ...COSIGNATURE_ALGORITHMS]);
  const unknown = Object.keys(record).find((field) => !known.has(field));
  if (unknown !== undefined) {
    throw new LedgerKeysError(`ledger keys: unknown field ${quote(unknown)}`);
  }
  if (typeof record.name !== "string") {
    throw new LedgerKeysError("ledger keys: name is not a string");
  }
  return record;
}

export /** The public key in `vkey`, checked to be `name`'s key for `algorithm`. */
function publicKeyOf(vkey: unknown, name: string, algorithm: CosignatureAlgorithm): Uint8Array {
  if (typeof vkey !== "string") {
    throw new LedgerKeysError(`ledger keys: ${algorithm} has no vkey string`);
  }
  let key: ReturnType<typeof parseCosignerKey>;
  try {
    key = parseCosignerKey(vkey);
  } catch (error) {
    throw new LedgerKeysError(`ledger keys: ${algorithm}: ${(error as Error).message}`);
  }
  if (key.algorithm !== algorithm || key.name !== name) {
    throw new LedgerKeysError(
      `ledger keys: ${algorithm} holds a key of ${key.algorithm} for ${quote(key.name)}`,
    );
  }
  return key.publicKey;
}

export function decodePublicLedgerKeys(json: string): TrustedMember {
  const record = parseRecord(json, PUBLIC_FORMAT);
  const name = record.name as string;
  const ed25519 = record.ed25519;
  const mldsa = record["ml-dsa-65"];
  if (ed25519 === undefined && mldsa === undefined) {
    throw new LedgerKeysError("ledger keys: a member needs at least one ledger key");
  }
  return {
    name,
    ...(ed25519 !== undefined && { ed25519PublicKey: publicKeyOf(ed25519, name, "ed25519") }),
    ...(mldsa !== undefined && { mldsaPublicKey: publicKeyOf(mldsa, name, "ml-dsa-65") }),
  };
}
