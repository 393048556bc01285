// qmesh.v1.Ledger: this member's ledger as it applied it — checkpoints, inclusion proofs (by leaf
// or by the revision a write created), consistency proofs and pages of leaves. Everything is read
// from the member's persisted tree; nothing here needs trusting, since every answer is a proof.
// Leaves hold the requests themselves, so with auth on the service is for root only.
import * as grpc from "@grpc/grpc-js";
import { formatCheckpoint } from "../../ledger/index.ts";
import { ledgerOrigin } from "../../node/member_ledger.ts";
import type { QmeshNode } from "../../node/node.ts";
import { header } from "../common.ts";
import type { Json } from "../json.ts";
import { type ApiContext, unary } from "./context.ts";
import { RpcError } from "./etcd_errors.ts";
import { EncodedMessage, encodeInclusionProofs } from "./proof_wire.ts";

const GRPC_INVALID_ARGUMENT = grpc.status.INVALID_ARGUMENT;
const GRPC_NOT_FOUND = grpc.status.NOT_FOUND;
const GRPC_OUT_OF_RANGE = grpc.status.OUT_OF_RANGE;

export const DEFAULT_LEAVES_PAGE = 100;
export const MAX_LEAVES_PAGE = 1000;

/** uint64 fields arrive as decimal strings (see proto.ts): a JS number only if it is exact. */
function count(value: unknown, field: string): number {
  const n = Number(value ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RpcError(GRPC_INVALID_ARGUMENT, `${field} must be a whole number ≥ 0, got ${value}`);
  }
  return n;
}

/** A tree size the member has reached; 0 means its latest. */
function treeSize(node: QmeshNode, value: unknown, field: string): number {
  const latest = node.ledger.check().committedTreeSize;
  const size = count(value, field);
  if (size === 0) return latest;
  if (size > latest) {
    throw new RpcError(
      GRPC_OUT_OF_RANGE,
      `${field} ${size} is beyond this member's ledger (${latest} leaves); ask for a smaller ` +
        "size, or wait for it to apply more",
    );
  }
  return size;
}

export function checkpoint(node: QmeshNode, pb: Json): Json {
  const tree = node.ledger.check();
  let size: number;
  if (pb.certified === true) {
    const latest = node.ledger.checkpoints.latestCertifiedSize();
    if (latest === undefined) {
      throw new RpcError(
        GRPC_NOT_FOUND,
        "no checkpoint has been certified yet (a quorum of members signs one within about a " +
          "second of the first writes); retry shortly",
      );
    }
    size = latest;
  } else {
    size = treeSize(node, pb.tree_size, "tree_size");
  }
  const root = tree.root(size);
  const origin = ledgerOrigin(node.clusterId);
  const note = node.ledger.checkpoints.certifiedNote(size);
  const voters = node.voterKeyPublications();
  return {
    header: header(node),
    tree_size: String(size),
    root_hash: root,
    origin,
    checkpoint: formatCheckpoint({ origin, size, rootHash: root, extensions: [] }),
    signed_note: note ?? "",
    certified: note !== undefined,
    member_keys: voters.map((voter) => voter.keys),
    member_key_leaves: voters.map((voter) => {
      const leaf =
        voter.raftIndex === undefined ? undefined : tree.leafIndexForRaftIndex(voter.raftIndex);
      return String(leaf ?? -1);
    }),
  };
}

export function inclusion(node: QmeshNode, pb: Json): Json {
  const tree = node.ledger.check();
  const size = treeSize(node, pb.tree_size, "tree_size");
  let index: number;
  if (pb.target === "revision") {
    const revision = count(pb.revision, "revision");
    const found = tree.leafIndexForRevision(revision);
    if (found === undefined) {
      throw new RpcError(
        GRPC_NOT_FOUND,
        `no ledger leaf created revision ${revision} on this member (a revision ` +
          "that a write never created, or one applied before the ledger existed)",
      );
    }
    index = found;
  } else {
    index = count(pb.leaf_index, "leaf_index");
  }
  if (index >= size) {
    throw new RpcError(
      GRPC_OUT_OF_RANGE,
      `leaf ${index} is not in a tree of ${size} leaves; ask for a larger tree_size (0: latest)`,
    );
  }
  return {
    header: header(node),
    leaf_index: String(index),
    tree_size: String(size),
    leaf: tree.leaf(index)!,
    proof: tree.inclusionProof(index, size),
    root_hash: tree.root(size),
  };
}

export const MAX_PROOFS_PER_CALL = 1000;

export function inclusionBatch(node: QmeshNode, pb: Json): Json {
  const tree = node.ledger.check();
  const size = treeSize(node, pb.tree_size, "tree_size");
  const indexes = (pb.leaf_indexes as unknown[] | undefined) ?? [];
  if (indexes.length > MAX_PROOFS_PER_CALL) {
    throw new RpcError(
      GRPC_INVALID_ARGUMENT,
      `${indexes.length} leaf_indexes is above ${MAX_PROOFS_PER_CALL} per call; split the request`,
    );
  }
  const proofs = indexes.map((value, i) => {
    const index = count(value, `leaf_indexes[${i}]`);
    if (index >= size) {
      throw new RpcError(
        GRPC_OUT_OF_RANGE,
        `leaf_indexes[${i}] = ${index} is not in a tree of ${size} leaves`,
      );
    }
    return {
      leaf_index: String(index),
      leaf: tree.leaf(index)!,
      proof: tree.inclusionProof(index, size),
    };
  });
  return { header: header(node), tree_size: String(size), root_hash: tree.root(size), proofs };
}

export function consistency(node: QmeshNode, pb: Json): Json {
  const tree = node.ledger.check();
  const to = treeSize(node, pb.to_size, "to_size");
  const from = count(pb.from_size, "from_size");
  if (from > to) {
    throw new RpcError(
      GRPC_OUT_OF_RANGE,
      `from_size ${from} is larger than to_size ${to}: a tree can only be proved to extend a smaller one`,
    );
  }
  return {
    header: header(node),
    from_size: String(from),
    to_size: String(to),
    proof: tree.consistencyProof(from, to),
    from_root: tree.root(from),
    to_root: tree.root(to),
  };
}

export function leaves(node: QmeshNode, pb: Json): Json {
  const tree = node.ledger.check();
  const size = tree.committedTreeSize;
  const start = count(pb.start, "start");
  const asked = count(pb.limit, "limit");
  if (asked > MAX_LEAVES_PAGE) {
    throw new RpcError(
      GRPC_INVALID_ARGUMENT,
      `limit ${asked} is above ${MAX_LEAVES_PAGE} leaves per page; page with a smaller limit`,
    );
  }
  const limit = Math.min(asked === 0 ? DEFAULT_LEAVES_PAGE : asked, Math.max(0, size - start));
  const page: Json[] = [];
  for (const { index, leaf } of tree.leaves(start, limit)) {
    page.push({ index: String(index), data: leaf });
  }
  return {
    header: header(node),
    leaves: page,
    next: String(Math.min(size, Math.max(start, start + page.length))),
    tree_size: String(size),
  };
}

export function ledgerService(ctx: ApiContext): grpc.UntypedServiceImplementation {
  const { node, auth } = ctx;
  const guarded =
    (handler: (node: QmeshNode, pb: Json) => Json) =>
    async (pb: Json, call: grpc.ServerUnaryCall<Json, Json>) => {
      auth.checkAdmin(call.metadata);
      return { response: handler(node, pb) };
    };
  return {
    Checkpoint: unary(guarded(checkpoint)),
    InclusionProof: unary(guarded(inclusion)),
    // In wire form already (proof_wire.ts): serve.ts registers the method to pass it through.
    InclusionProofs: unary(async (pb: Json, call: grpc.ServerUnaryCall<Json, Json>) => {
      auth.checkAdmin(call.metadata);
      const encoded = new EncodedMessage(encodeInclusionProofs(inclusionBatch(node, pb)));
      return { response: encoded as unknown as Json };
    }),
    ConsistencyProof: unary(guarded(consistency)),
    Leaves: unary(guarded(leaves)),
  };
}
