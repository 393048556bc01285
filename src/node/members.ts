// Who the members are and how to reach them. Raft's ConfState only knows ids; this registry maps
// ids to names and URLs. It changes only by applying log entries (a conf change carrying a
// MemberInfo in its context, or a member publishing its client URL), so every member agrees.
import { decodePublicLedgerKeys } from "../ledger/index.ts";
import { type ConfChange, ConfChangeType, type NodeId } from "../raft/index.ts";
import { memberIdOf } from "./config.ts";

/**
 * A member's id from its peer URL and the cluster token alone. etcd's MemberAdd carries no name,
 * so the cluster names an added member's id before it knows its name, and a joining member
 * computes the same ids for everyone its --initial-cluster lists. Names arrive through the log
 * (the member publishes itself). One URL, one id: a removed member's URL cannot be re-added.
 */
export function memberIdFor(peerUrl: string, clusterToken: string): NodeId {
  return memberIdOf("", peerUrl, clusterToken);
}

export interface MemberInfo {
  readonly id: NodeId;
  readonly name: string;
  readonly peerUrl: string;
  /** Empty until the member has published it. */
  readonly clientUrl: string;
  /** The member's public ledger keys (encodePublicLedgerKeys), once published. */
  readonly ledgerKeys?: string;
  /** The raft index of the entry that published `ledgerKeys`: where an auditor finds the leaf. */
  readonly ledgerKeysIndex?: number;
}

export class MemberRegistry {
  private readonly members = new Map<NodeId, MemberInfo>();
  /** Ids of removed members: never reused (a stale process could rejoin under one). */
  private readonly removedIds = new Set<NodeId>();

  constructor(initial: readonly MemberInfo[] = [], removed: readonly NodeId[] = []) {
    for (const member of initial) this.members.set(member.id, member);
    for (const id of removed) this.removedIds.add(id);
  }

  wasRemoved(id: NodeId): boolean {
    return this.removedIds.has(id);
  }

  byPeerUrl(peerUrl: string): MemberInfo | undefined {
    for (const member of this.members.values()) if (member.peerUrl === peerUrl) return member;
    return undefined;
  }

  get(id: NodeId): MemberInfo | undefined {
    return this.members.get(id);
  }

  byName(name: string): MemberInfo | undefined {
    for (const member of this.members.values()) if (member.name === name) return member;
    return undefined;
  }

  list(): MemberInfo[] {
    return [...this.members.values()].sort((a, b) => a.id - b.id);
  }

  upsert(member: MemberInfo): void {
    const known = this.members.get(member.id);
    // A conf change context carries no client URL; keep one already published.
    const clientUrl = member.clientUrl === "" ? (known?.clientUrl ?? "") : member.clientUrl;
    // Nor a name: an added member's context has none until the member publishes it.
    const name = member.name === "" ? (known?.name ?? "") : member.name;
    const ledgerKeys = member.ledgerKeys ?? known?.ledgerKeys;
    const ledgerKeysIndex = member.ledgerKeysIndex ?? known?.ledgerKeysIndex;
    this.members.set(member.id, {
      ...member,
      name,
      clientUrl,
      ...(ledgerKeys !== undefined && { ledgerKeys }),
      ...(ledgerKeysIndex !== undefined && { ledgerKeysIndex }),
    });
  }

  /**
   * Applies published attributes (entry `raftIndex`, proposed by `proposer`). Ledger keys change
   * only when the member publishes its own, under a key name no other member's keys carry:
   * otherwise one member, or a client's MemberUpdate, could put a key it holds in another
   * member's name and sign twice towards a quorum. Keys that fail this are dropped; the rest
   * (URLs) applies.
   */
  publish(info: MemberInfo, proposer: NodeId, raftIndex: number): void {
    const known = this.members.get(info.id);
    if (known === undefined) return;
    const { ledgerKeys, ledgerKeysIndex: _, ...rest } = info;
    const accepted =
      ledgerKeys !== undefined &&
      ledgerKeys !== known.ledgerKeys &&
      proposer === info.id &&
      this.keyNameIsFree(ledgerKeys, info.id);
    this.upsert(accepted ? { ...rest, ledgerKeys, ledgerKeysIndex: raftIndex } : rest);
  }

  private keyNameIsFree(ledgerKeys: string, owner: NodeId): boolean {
    const name = keyNameOf(ledgerKeys);
    if (name === null) return false;
    for (const member of this.members.values()) {
      if (member.id !== owner && member.ledgerKeys !== undefined) {
        if (keyNameOf(member.ledgerKeys) === name) return false;
      }
    }
    return true;
  }

  /**
   * Applies a conf change's member info (addresses only: ledger keys come from the member's own
   * publish) and its removals.
   */
  applyConfChange(change: ConfChange): void {
    const info = decodeMemberInfo(change.context);
    if (info !== null) {
      const { ledgerKeys: _, ...addresses } = info;
      this.upsert(addresses);
    }
    // Only an explicit removal drops a member's address: while the bootstrap entries are
    // applied one by one, the config briefly lacks members that are there all along.
    for (const single of change.changes) {
      if (single.type === ConfChangeType.RemoveNode) this.remove(single.nodeId);
    }
  }

  remove(id: NodeId): void {
    if (this.members.delete(id)) this.removedIds.add(id);
  }

  /** Takes the registry stored with an installed snapshot. */
  replaceWith(bytes: Uint8Array): void {
    this.members.clear();
    this.removedIds.clear();
    const decoded = MemberRegistry.decode(bytes);
    for (const member of decoded.list()) this.members.set(member.id, member);
    for (const id of decoded.removedIds) this.removedIds.add(id);
  }

  /**
   * Canonical bytes (sorted by id) so that every member stores the same meta value: the member
   * list alone while nobody was removed (the original format), else {members, removed}.
   */
  encode(): Uint8Array {
    if (this.removedIds.size === 0) return Buffer.from(JSON.stringify(this.list()));
    const removed = [...this.removedIds].sort((a, b) => a - b);
    return Buffer.from(JSON.stringify({ members: this.list(), removed }));
  }

  static decode(bytes: Uint8Array): MemberRegistry {
    const value = JSON.parse(Buffer.from(bytes).toString("utf8")) as
      | MemberInfo[]
      | { members: MemberInfo[]; removed: NodeId[] };
    if (Array.isArray(value)) return new MemberRegistry(value);
    return new MemberRegistry(value.members, value.removed);
  }
}

export function encodeMemberInfo(member: MemberInfo): Uint8Array {
  return Buffer.from(JSON.stringify(member));
}

export function decodeMemberInfo(bytes: Uint8Array): MemberInfo | null {
  if (bytes.length === 0) return null;
  const value = JSON.parse(Buffer.from(bytes).toString("utf8")) as Partial<MemberInfo>;
  if (typeof value.id !== "number" || typeof value.name !== "string") return null;
  return {
    id: value.id,
    name: value.name,
    peerUrl: value.peerUrl ?? "",
    clientUrl: value.clientUrl ?? "",
    ...(typeof value.ledgerKeys === "string" && { ledgerKeys: value.ledgerKeys }),
  };
}

/** The key name of published ledger keys, or null when they do not decode. */
function keyNameOf(ledgerKeys: string): string | null {
  try {
    return decodePublicLedgerKeys(ledgerKeys).name;
  } catch {
    return null;
  }
}
