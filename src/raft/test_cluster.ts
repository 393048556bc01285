// A small in-memory cluster for scenario tests: real RawNodes, storage that is durable at once,
// and a network the test controls (cut links, hold and release messages). Not for production.
import { decodeConfChange } from "./confchange/index.ts";
import type { RaftConfig } from "./config.ts";
import { SeededRandom } from "./random.ts";
import { RawNode } from "./rawnode.ts";
import { MemoryStorage } from "./storage.ts";
import {
  type ConfState,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  type NodeId,
  type ReadState,
  type Role,
} from "./types.ts";

export interface TestMember {
  node: RawNode;
  storage: MemoryStorage;
  /** Entries applied, in order (normal and conf change). */
  applied: Entry[];
  readStates: ReadState[];
  confState: ConfState;
  crashed: boolean;
}

const MESSAGE_NAMES = Object.fromEntries(Object.entries(MessageType).map(([k, v]) => [v, k]));

export function messageName(type: number): string {
  return MESSAGE_NAMES[type] ?? `type${type}`;
}

export function confState(voters: NodeId[], learners: NodeId[] = []): ConfState {
  return { voters, votersOutgoing: [], learners, learnersNext: [], autoLeave: false };
}

export class TestCluster {
  readonly members = new Map<NodeId, TestMember>();
  /** Messages held back by `holdAll` or a filter, in send order, for the test to release. */
  held: Message[] = [];
  private readonly cutLinks = new Set<string>();
  private filter: ((message: Message) => "deliver" | "drop" | "hold") | null = null;
  private readonly config: Partial<RaftConfig>;
  private seed = 1;

  constructor(
    voters: NodeId[],
    options: { learners?: NodeId[]; config?: Partial<RaftConfig> } = {},
  ) {
    this.config = options.config ?? {};
    const initial = { voters, learners: options.learners ?? [] };
    for (const id of [...voters, ...(options.learners ?? [])]) this.add(id, initial);
    this.settle(); // apply the bootstrap entries, so every member knows the membership
  }

  /**
   * Adds a member. `initial` is the membership of a new cluster (written to its log as in
   * etcd's Bootstrap); a member that joins later passes nothing and learns it from the leader.
   */
  add(id: NodeId, initial?: { voters: NodeId[]; learners: NodeId[] }): TestMember {
    const storage = new MemoryStorage(initial);
    const member: TestMember = {
      node: this.newNode(id, storage, 0),
      storage,
      applied: [],
      readStates: [],
      confState: confState([]),
      crashed: false,
    };
    this.members.set(id, member);
    return member;
  }

  private newNode(id: NodeId, storage: MemoryStorage, appliedIndex: number): RawNode {
    return new RawNode({
      id,
      storage,
      random: new SeededRandom(this.seed++ * 7919 + id),
      appliedIndex,
      ...this.config,
    });
  }

  member(id: NodeId): TestMember {
    const member = this.members.get(id);
    if (member === undefined) throw new Error(`no member ${id}`);
    return member;
  }

  role(id: NodeId): Role {
    return this.member(id).node.status().softState.role;
  }

  term(id: NodeId): number {
    return this.member(id).node.status().hardState.term;
  }

  committed(id: NodeId): number {
    return this.member(id).node.status().commitIndex;
  }

  /** The live member that believes it leads with the highest term, if any. */
  leader(): NodeId | undefined {
    let best: { id: NodeId; term: number } | undefined;
    for (const [id, member] of this.members) {
      if (member.crashed) continue;
      const status = member.node.status();
      if (status.softState.role !== "leader") continue;
      if (best === undefined || status.hardState.term > best.term)
        best = { id, term: status.hardState.term };
    }
    return best?.id;
  }

  /** Terms and indexes of the member's whole log (durable), as "term" strings from firstIndex. */
  logTerms(id: NodeId): number[] {
    const storage = this.member(id).storage;
    const terms: number[] = [];
    for (let i = storage.firstIndex(); i <= storage.lastIndex(); i++) terms.push(storage.term(i));
    return terms;
  }

  appliedData(id: NodeId): string[] {
    return this.member(id)
      .applied.filter((e) => e.type === EntryType.Normal && e.data.length > 0)
      .map((e) => new TextDecoder().decode(e.data));
  }

  cut(a: NodeId, b: NodeId): void {
    this.cutLinks.add(`${a}->${b}`);
    this.cutLinks.add(`${b}->${a}`);
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.cutLinks.add(`${from}->${to}`);
  }

  isolate(id: NodeId): void {
    for (const other of this.members.keys()) if (other !== id) this.cut(id, other);
  }

  heal(): void {
    this.cutLinks.clear();
  }

  /** Decide per message: deliver, drop or hold (held messages wait in `held`). */
  setFilter(filter: ((message: Message) => "deliver" | "drop" | "hold") | null): void {
    this.filter = filter;
  }

  /** Re-sends held messages through the current filter (clear or change it first to let them pass). */
  releaseHeld(predicate: (message: Message) => boolean = () => true): void {
    const releasing = this.held.filter(predicate);
    this.held = this.held.filter((m) => !predicate(m));
    for (const message of releasing) this.deliver(message);
    this.settle();
  }

  tick(id: NodeId, ticks = 1): void {
    for (let i = 0; i < ticks; i++) {
      this.member(id).node.tick();
      this.settle();
    }
  }

  tickAll(ticks = 1): void {
    for (let i = 0; i < ticks; i++) {
      for (const member of this.members.values()) if (!member.crashed) member.node.tick();
      this.settle();
    }
  }

  /** Ticks everyone until some member leads (or the bound runs out). */
  electLeader(maxTicks = 200): NodeId {
    for (let i = 0; i < maxTicks; i++) {
      const leader = this.leader();
      if (leader !== undefined) return leader;
      this.tickAll();
    }
    throw new Error(`no leader after ${maxTicks} ticks`);
  }

  campaign(id: NodeId): void {
    this.member(id).node.campaign();
    this.settle();
  }

  propose(id: NodeId, text: string): void {
    this.member(id).node.propose(new TextEncoder().encode(text));
    this.settle();
  }

  crash(id: NodeId): void {
    this.member(id).crashed = true;
  }

  /** Restarts from what storage holds; the state machine replays from the snapshot. */
  restart(id: NodeId): void {
    const member = this.member(id);
    const snapshotIndex = member.storage.snapshot().metadata.index;
    member.node = this.newNode(id, member.storage, snapshotIndex);
    member.applied = member.applied.filter((e) => e.index <= snapshotIndex);
    member.crashed = false;
    this.settle();
  }

  /** Runs every member's Ready loop and delivers messages until nothing moves. */
  settle(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let busy = false;
      for (const [id, member] of this.members) {
        if (member.crashed || !member.node.hasReady()) continue;
        busy = true;
        this.handleReady(id, member);
      }
      if (!busy) return;
    }
    throw new Error("cluster did not settle");
  }

  private handleReady(_id: NodeId, member: TestMember): void {
    const ready = member.node.ready();
    if (ready.snapshot !== null) {
      member.storage.applySnapshot(ready.snapshot);
      member.confState = ready.snapshot.metadata.confState;
      member.applied = member.applied.filter((e) => e.index <= ready.snapshot!.metadata.index);
    }
    member.storage.append(ready.entries);
    if (ready.hardState !== null) member.storage.setHardState(ready.hardState);
    for (const message of ready.messages) this.deliver(message);
    for (const message of ready.messagesAfterPersist) this.deliver(message);
    for (const entry of ready.committedEntries) {
      member.applied.push(entry);
      if (entry.type === EntryType.ConfChange) {
        member.confState = member.node.applyConfChange(decodeConfChange(entry.data));
      }
    }
    for (const readState of ready.readStates) member.readStates.push(readState);
    member.node.advance();
  }

  private deliver(message: Message): void {
    if (this.cutLinks.has(`${message.from}->${message.to}`)) return;
    const target = this.members.get(message.to);
    if (target === undefined || target.crashed) return;
    const verdict = this.filter?.(message) ?? "deliver";
    if (verdict === "drop") return;
    if (verdict === "hold") {
      this.held.push(message);
      return;
    }
    target.node.step(message);
  }
}
