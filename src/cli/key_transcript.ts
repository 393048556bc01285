// How a monitor learns a member's new ledger keys without trusting the server that lists them:
// the keys must have been published by the member itself in a leaf of a tree that the keys it
// already trusts certified. Members apply a key change only from the member itself and only
// under its own key name (node/members.ts), so a leaf that passes here is a change the cluster's
// rules accepted and a quorum of trusted keys signed for.
import {
  COSIGNATURE_ALGORITHMS,
  decodeLeaf,
  decodePublicLedgerKeys,
  equalBytes,
  hashLeaf,
  LeafKind,
  memberPublicKey,
  type TrustedMember,
  verifyInclusion,
} from "../ledger/index.ts";

export interface KeyPublication {
  /** The member's keys as the cluster lists them (qmesh-ledger-public-keys/v1). */
  readonly keys: string;
  /** The leaf that published them, as the cluster says. */
  readonly leafIndex: number;
}

export interface ProvenLeaf {
  readonly leaf: Uint8Array;
  readonly proof: readonly Uint8Array[];
}

export function sameKeys(a: TrustedMember, b: TrustedMember): boolean {
  if (a.name !== b.name) return false;
  return COSIGNATURE_ALGORITHMS.every((algorithm) => {
    const x = memberPublicKey(a, algorithm);
    const y = memberPublicKey(b, algorithm);
    return x === undefined || y === undefined ? x === y : equalBytes(x, y);
  });
}

/**
 * Checks that `publication` is proven by `proven` in the tree (`size`, `root`) and replaces
 * `pinned`'s keys; throws an Error saying what does not hold. `after`: the leaf that published
 * the pinned keys, when known (a key change cannot go back to an earlier publication).
 */
export function provenKeyChange(
  pinned: TrustedMember,
  publication: KeyPublication,
  proven: ProvenLeaf,
  tree: { size: number; root: Uint8Array },
  after: number | null,
): TrustedMember {
  const { leafIndex } = publication;
  const keys = decodePublicLedgerKeys(publication.keys);
  if (keys.name !== pinned.name) {
    throw new Error(`the keys listed for ${pinned.name} are named ${keys.name}`);
  }
  if (after !== null && leafIndex <= after) {
    throw new Error(
      `leaf ${leafIndex} comes before leaf ${after}, which published the keys pinned now`,
    );
  }
  if (!verifyInclusion(hashLeaf(proven.leaf), leafIndex, tree.size, proven.proof, tree.root)) {
    throw new Error(`leaf ${leafIndex} is not in the certified tree of size ${tree.size}`);
  }
  let leaf: ReturnType<typeof decodeLeaf> | null = null;
  try {
    leaf = decodeLeaf(proven.leaf);
  } catch {}
  if (leaf === null || leaf.kind !== LeafKind.MemberAttributes || leaf.rejected !== null) {
    throw new Error(`leaf ${leafIndex} is not an applied publication of member attributes`);
  }
  let info: { id?: unknown; ledgerKeys?: unknown };
  try {
    info = JSON.parse(new TextDecoder().decode(leaf.request)) as typeof info;
  } catch {
    throw new Error(`leaf ${leafIndex} does not hold member attributes`);
  }
  if (info.id !== leaf.proposer) {
    throw new Error(`leaf ${leafIndex} was proposed by another member than the one it names`);
  }
  if (
    typeof info.ledgerKeys !== "string" ||
    !sameKeys(decodePublicLedgerKeys(info.ledgerKeys), keys)
  ) {
    throw new Error(`leaf ${leafIndex} publishes other keys than those listed for ${pinned.name}`);
  }
  return keys;
}
