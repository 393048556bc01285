// Who the members are and how to reach them. Raft's ConfState only knows ids; this registry maps
// ids to names and URLs. It changes only by applying log entries (a conf change carrying a
// MemberInfo in its context, or a member publishing its client URL), so every member agrees.
import type { NodeId } from "../raft/index.ts";

export interface MemberInfo {
  readonly id: NodeId;
  readonly name: string;
  readonly peerUrl: string;
  /** Empty until the member has published it. */
  readonly clientUrl: string;
}

export class MemberRegistry {
  private readonly members = new Map<NodeId, MemberInfo>();

  constructor(initial: readonly MemberInfo[] = []) {
    for (const member of initial) this.members.set(member.id, member);
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
    this.members.set(member.id, { ...member, clientUrl });
  }

  remove(id: NodeId): void {
    this.members.delete(id);
  }

  /** Takes the registry stored with an installed snapshot. */
  replaceWith(bytes: Uint8Array): void {
    this.members.clear();
    for (const member of MemberRegistry.decode(bytes).list()) this.members.set(member.id, member);
  }

  /** Canonical bytes (sorted by id) so that every member stores the same meta value. */
  encode(): Uint8Array {
    return Buffer.from(JSON.stringify(this.list()));
  }

  static decode(bytes: Uint8Array): MemberRegistry {
    return new MemberRegistry(JSON.parse(Buffer.from(bytes).toString("utf8")) as MemberInfo[]);
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
  };
}
