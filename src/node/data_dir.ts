// The member's data directory: who it belongs to (member.json), the WAL, the kv store and the
// snapshot files. Opening it checks that it is this member's, of this cluster, before anything
// is read, so that a wrong --data-dir is refused instead of merged.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { NodeId } from "../raft/index.ts";

export interface MemberIdentity {
  readonly clusterToken: string;
  readonly name: string;
  readonly memberId: NodeId;
}

export class DataDirError extends Error {
  override name = "DataDirError";
}

export interface DataDirLayout {
  readonly root: string;
  readonly wal: string;
  readonly kv: string;
  readonly snap: string;
  readonly identityFile: string;
}

export function dataDirLayout(root: string): DataDirLayout {
  return {
    root,
    wal: join(root, "wal"),
    kv: join(root, "kv"),
    snap: join(root, "snap"),
    identityFile: join(root, "member.json"),
  };
}

/**
 * Returns true when the directory is new (nothing to recover). Throws DataDirError when it
 * belongs to another member or cluster, or holds a log without its identity file.
 */
/**
 * Claims the directory for this member, or checks that it is this member's. Returns whether it
 * is new and the member id to run as: the stored one for an existing directory, since a member
 * keeps its id when its peer URL changes (MemberUpdate) and ids derive from the first URL.
 */
export function claimDataDir(
  layout: DataDirLayout,
  expected: MemberIdentity,
): { isNew: boolean; memberId: number } {
  mkdirSync(layout.root, { recursive: true });
  if (!existsSync(layout.identityFile)) {
    const walFiles = existsSync(layout.wal) ? readdirSync(layout.wal) : [];
    if (walFiles.some((file) => file.endsWith(".wal"))) {
      throw new DataDirError(
        `${layout.root} holds a write-ahead log but no member.json: it was not made by this ` +
          "version of qmesh or was damaged; move it away and re-add this member",
      );
    }
    writeIdentity(layout, expected);
    return { isNew: true, memberId: expected.memberId };
  }
  const found = readIdentity(layout);
  if (found.clusterToken !== expected.clusterToken) {
    throw new DataDirError(
      `${layout.root} belongs to cluster "${found.clusterToken}", not ` +
        `"${expected.clusterToken}": use another --data-dir, or the ` +
        "--initial-cluster-token this directory was created with",
    );
  }
  if (found.name !== expected.name) {
    throw new DataDirError(
      `${layout.root} belongs to member "${found.name}" (id ${hex(found.memberId)}), not ` +
        `"${expected.name}" (id ${hex(expected.memberId)}): use this member's own --data-dir`,
    );
  }
  return { isNew: false, memberId: found.memberId };
}

function readIdentity(layout: DataDirLayout): MemberIdentity {
  try {
    const value = JSON.parse(readFileSync(layout.identityFile, "utf8")) as MemberIdentity;
    if (typeof value.clusterToken !== "string" || typeof value.memberId !== "number") {
      throw new Error("missing fields");
    }
    return value;
  } catch (error) {
    throw new DataDirError(
      `${layout.identityFile} is unreadable (${(error as Error).message}): the data directory ` +
        "is damaged; move it away and re-add this member",
    );
  }
}

function writeIdentity(layout: DataDirLayout, identity: MemberIdentity): void {
  const temp = `${layout.identityFile}.tmp`;
  writeFileSync(temp, `${JSON.stringify(identity, null, 2)}\n`);
  renameSync(temp, layout.identityFile);
}

export function hex(id: NodeId): string {
  return id.toString(16);
}
