// Plain data that crosses the boundary of the Raft core: log entries, messages,
// persistent state and snapshots. Nothing here has behaviour; see docs/raft.md.

/** A member id. Ids are positive integers; 0 means "nobody". */
export type NodeId = number;
export const NONE: NodeId = 0;

export const EntryType = { Normal: 0, ConfChange: 1 } as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** Opaque to the core for Normal entries; an encoded ConfChange for ConfChange entries. */
  readonly data: Uint8Array;
}

/** What must be durable before the member answers anyone (Raft paper, Figure 2). */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

/** The term of a new cluster's bootstrap entries; elections start above it. */
export const BOOTSTRAP_TERM = 1;

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NONE, commit: 0 };

/**
 * A membership configuration. When `votersOutgoing` is non-empty the cluster is in a
 * joint configuration and every decision needs a majority of both voter sets.
 */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly votersOutgoing: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** Voters of the outgoing config that become learners when the joint config is left. */
  readonly learnersNext: readonly NodeId[];
  /** Leave the joint config automatically once it is committed. */
  readonly autoLeave: boolean;
}

export const EMPTY_CONF_STATE: ConfState = {
  voters: [],
  votersOutgoing: [],
  learners: [],
  learnersNext: [],
  autoLeave: false,
};

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

export const ConfChangeType = { AddNode: 0, RemoveNode: 1, AddLearnerNode: 2 } as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/**
 * How a multi-change is carried out (etcd's ConfChangeTransition).
 * Auto: a single change is applied directly, several go through a joint config that is left
 * automatically. Implicit: always joint, left automatically. Explicit: always joint, left only
 * when the caller proposes an empty ConfChange.
 */
export const ConfChangeTransition = { Auto: 0, JointImplicit: 1, JointExplicit: 2 } as const;
export type ConfChangeTransition = (typeof ConfChangeTransition)[keyof typeof ConfChangeTransition];

export interface ConfChangeSingle {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

/** etcd's ConfChangeV2. An empty `changes` list means "leave the joint configuration". */
export interface ConfChange {
  readonly transition: ConfChangeTransition;
  readonly changes: readonly ConfChangeSingle[];
  readonly context: Uint8Array;
}

export const MessageType = {
  // Local messages: never sent over the network.
  Hup: 0, // start an election
  Beat: 1, // leader: send heartbeats
  Propose: 2, // append entries (forwarded to the leader by followers)
  Unreachable: 3, // the transport could not reach `from`
  SnapshotStatus: 4, // the transport finished (or failed) sending a snapshot to `from`
  CheckQuorum: 5, // leader: step down unless a quorum was recently active
  // Network messages.
  Append: 6,
  AppendResponse: 7,
  RequestVote: 8,
  RequestVoteResponse: 9,
  RequestPreVote: 10,
  RequestPreVoteResponse: 11,
  InstallSnapshot: 12,
  Heartbeat: 13,
  HeartbeatResponse: 14,
  TransferLeader: 15,
  TimeoutNow: 16,
  ReadIndex: 17,
  ReadIndexResponse: 18,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * One message between members (or from the caller into the core). Fields are shared across
 * types as in etcd's raftpb.Message; docs/raft.md lists what each field means for each type.
 * Notably: Heartbeat.index carries the leader's tick at sending time and HeartbeatResponse
 * echoes it, so the leader can date its lease; a rejected AppendResponse carries a conflict
 * hint in (rejectHint, logTerm).
 */
export interface Message {
  readonly type: MessageType;
  readonly to: NodeId;
  readonly from: NodeId;
  readonly term: number;
  readonly logTerm: number;
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly snapshot: Snapshot | null;
  readonly reject: boolean;
  readonly rejectHint: number;
  readonly context: Uint8Array;
}

export type Role = "follower" | "pre-candidate" | "candidate" | "leader";

/** Volatile state that the caller may want to observe (not persisted). */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
}

/** A linearizable read became safe to serve once the state machine has applied `index`. */
export interface ReadState {
  readonly index: number;
  readonly requestId: Uint8Array;
}

export const SnapshotStatus = { Finished: 0, Failure: 1 } as const;
export type SnapshotStatus = (typeof SnapshotStatus)[keyof typeof SnapshotStatus];

/**
 * What the core hands to its caller. The caller must, in this order:
 *  1. persist `snapshot` (if any), `entries` and `hardState` (if any), durably when `mustSync`;
 *  2. send `messagesAfterPersist` (they acknowledge or vote on that state);
 *  3. apply `committedEntries` in order (they may include entries from step 1);
 *  4. serve `readStates` once the state machine has applied their index;
 *  5. call `advance()`.
 * `messages` do not depend on this Ready's persistence and may be sent at once, in parallel
 * with step 1 (the leader replicating while it writes its own log: Raft thesis §10.2.1).
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly readStates: readonly ReadState[];
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly messagesAfterPersist: readonly Message[];
  readonly mustSync: boolean;
}

/** A seeded source of randomness given by the caller; the core has no other. */
export interface Random {
  /** A uniformly distributed integer in [0, bound). */
  nextInt(bound: number): number;
}

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}
