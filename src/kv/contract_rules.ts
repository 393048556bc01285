// Contract rules in the keyspace: each rule is an ordinary key, CONTRACTS_PREFIX + its name, whose
// value is the rule's encoding, so rules are revisioned, watchable, in snapshots and in the state
// hash. Only contractSet / contractDelete write there. What a rule means is the WriteGuard's
// business (node/ injects one built on contracts/); kv only finds the rules and asks it.
import { compareBytes, prefixEnd } from "./bytes.ts";
import { KvError } from "./errors.ts";
import type { Dbs } from "./layout.ts";
import { currentKvs } from "./range.ts";
import type { GuardedWrite, StoredRule, WriteGuard, WriteRules } from "./types.ts";

export const CONTRACTS_PREFIX_TEXT = "qmesh/contracts/";
const enc = new TextEncoder();
const dec = new TextDecoder();
export const CONTRACTS_PREFIX: Uint8Array = enc.encode(CONTRACTS_PREFIX_TEXT);
const CONTRACTS_END = prefixEnd(CONTRACTS_PREFIX);

export function contractKey(name: string): Uint8Array {
  const out = new Uint8Array(CONTRACTS_PREFIX.length + enc.encode(name).length);
  out.set(CONTRACTS_PREFIX);
  out.set(enc.encode(name), CONTRACTS_PREFIX.length);
  return out;
}

export function isContractKey(key: Uint8Array): boolean {
  return compareBytes(key, CONTRACTS_PREFIX) >= 0 && compareBytes(key, CONTRACTS_END) < 0;
}

/** A put, delete or txn that would write a rule's key directly. */
export function reservedKeyError(key: Uint8Array): KvError {
  return new KvError(
    "InvalidArgument",
    `key "${dec.decode(key)}": keys under ${CONTRACTS_PREFIX_TEXT} hold contract rules: use ` +
      "`qmesh contract set|delete`",
  );
}

/** The rules as read from the store: undefined, not read yet; null, none stored. */
export type LoadedRules = WriteRules | null | undefined;

/**
 * The rules one apply batch checks writes with: read from the store at the first write that
 * needs them (or taken from the last committed batch), kept until a contractSet /
 * contractDelete of the batch changes them. So reading rules costs nothing while they do not
 * change; with no guard, nothing at all.
 */
export class BatchRules {
  constructor(
    private readonly dbs: Dbs,
    readonly guard: WriteGuard | undefined,
    private rules: LoadedRules,
  ) {}

  /** What the next batch may start from, once this one committed. */
  get loaded(): LoadedRules {
    return this.rules;
  }

  changed(): void {
    this.rules = undefined;
  }

  /** Throws KvError ContractRejected if a rule rejects the write. */
  check(write: GuardedWrite): void {
    if (this.guard === undefined) return;
    if (this.rules === undefined) this.rules = this.read(this.guard);
    if (this.rules === null) return;
    const rejection = this.rules.check(write);
    if (rejection !== null) throw new KvError("ContractRejected", rejection);
  }

  private read(guard: WriteGuard): WriteRules | null {
    const stored: StoredRule[] = currentKvs(this.dbs, CONTRACTS_PREFIX, CONTRACTS_END).map(
      (kv) => ({ name: dec.decode(kv.key.subarray(CONTRACTS_PREFIX.length)), rule: kv.value }),
    );
    return stored.length === 0 ? null : guard.load(stored);
  }
}
