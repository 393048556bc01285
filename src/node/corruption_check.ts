// etcd's initial corruption check, run when a member starts: its live keys must be its newest
// history records, and its history up to its revision must hash as its peers' does. A value
// changed in the member's files while it was stopped fails one or the other, and the member
// raises CORRUPT instead of serving it.
import type { Logger as PinoLogger } from "pino";
import type { HistoryHash, MvccStore } from "../kv/index.ts";
import type { NodeId } from "../raft/index.ts";
import { PeerNotConnectedError, type Transport } from "../transport/index.ts";
import type { MemberInfo } from "./members.ts";
import { encodePeerQuery } from "./peer_queries.ts";

/** How long the check waits for a connection to a peer: a down peer is skipped. */
export const PEER_WAIT_MS = 2_000;
/** A connected peer hashes its history in steps between applies: give a large one time. */
const ANSWER_TIMEOUT_MS = 10_000;
const RETRY_MS = 50;

export interface HashPeer {
  readonly id: number;
  readonly name: string;
  readonly isVoter: boolean;
}

export interface CorruptionCheckDeps {
  readonly kv: Pick<MvccStore, "revision" | "hashHistory" | "checkLiveKeys">;
  /** The other members. */
  readonly peers: readonly HashPeer[];
  /** Voters including this member, for the quorum. */
  readonly voterCount: number;
  readonly selfIsVoter: boolean;
  hashOfPeer(peer: number, revision: number, timeoutMs: number): Promise<HistoryHash>;
  /** The error hashOfPeer rejects with when the link to that peer is not up (yet). */
  isNotConnected(error: unknown): boolean;
  readonly waitMs?: number;
}

export interface CorruptionCheckResult {
  /** Why this member must not serve, or null. */
  readonly corrupt: string | null;
  /** What the operator should know even when it may serve (peers skipped or disagreeing). */
  readonly notes: readonly string[];
  /** The revision compared, and how many peers' hashes were compared and agreed. */
  readonly revision: number;
  readonly compared: number;
}

const REMEDY =
  "this member's data was changed outside qmesh: remove it (qmesh member remove), wipe its " +
  "data directory and add it back so that it copies a peer's";

export async function initialCorruptionCheck(
  deps: CorruptionCheckDeps,
): Promise<CorruptionCheckResult> {
  const live = await deps.kv.checkLiveKeys();
  const revision = deps.kv.revision;
  if (live !== null) {
    return {
      corrupt: `initial corruption check: ${live}; ${REMEDY}`,
      notes: [],
      revision,
      compared: 0,
    };
  }
  const mine = await deps.kv.hashHistory(revision);
  const waitMs = deps.waitMs ?? PEER_WAIT_MS;
  const answers = await Promise.all(
    deps.peers.map((peer) => askWithRetry(deps, peer, revision, waitMs)),
  );
  const notes: string[] = [];
  const holders = new Map<string, string[]>(); // hash → voter names holding it
  if (deps.selfIsVoter) holders.set(mine.hash, ["this member"]);
  const differing: string[] = [];
  let compared = 0;
  for (const [i, answer] of answers.entries()) {
    const peer = deps.peers[i]!;
    if (answer instanceof Error) {
      notes.push(`initial corruption check: skipped ${peer.name}: ${answer.message}`);
      continue;
    }
    if (answer.compactRevision !== mine.compactRevision) {
      notes.push(
        `initial corruption check: skipped ${peer.name}: compacted at ${answer.compactRevision}, this member at ${mine.compactRevision}`,
      );
      continue;
    }
    compared++;
    if (answer.hash !== mine.hash) differing.push(peer.name);
    if (peer.isVoter) holders.set(answer.hash, [...(holders.get(answer.hash) ?? []), peer.name]);
  }
  if (differing.length === 0) return { corrupt: null, notes, revision, compared };
  const quorum = Math.floor(deps.voterCount / 2) + 1;
  for (const [hash, names] of holders) {
    if (hash !== mine.hash && names.length >= quorum) {
      return {
        corrupt:
          `initial corruption check: this member's history up to revision ${revision} differs ` +
          `from that of ${names.join(", ")} (a quorum of voters); ${REMEDY}`,
        notes,
        revision,
        compared,
      };
    }
  }
  notes.push(
    `initial corruption check: the history up to revision ${revision} of ${differing.join(", ")} ` +
      "differs from this member's, and no quorum agrees on another: run `qmesh ledger verify` " +
      "on each of them while it is stopped",
  );
  return { corrupt: null, notes, revision, compared };
}

async function askWithRetry(
  deps: CorruptionCheckDeps,
  peer: HashPeer,
  revision: number,
  waitMs: number,
): Promise<HistoryHash | Error> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    try {
      return await deps.hashOfPeer(peer.id, revision, ANSWER_TIMEOUT_MS);
    } catch (error) {
      // Not connected yet (the links dial as the member starts): ask again until the deadline.
      if (!deps.isNotConnected(error) || performance.now() >= deadline) return error as Error;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}

/** The answer to a peer's hash-history query. */
export async function answerHashQuery(
  kv: Pick<MvccStore, "hashHistory">,
  revision: number,
): Promise<Uint8Array> {
  return Buffer.from(JSON.stringify(await kv.hashHistory(revision)));
}

export function decodeHashAnswer(answer: Uint8Array): HistoryHash {
  const parsed = JSON.parse(Buffer.from(answer).toString("utf8")) as HistoryHash;
  if (typeof parsed.hash !== "string" || !Number.isSafeInteger(parsed.compactRevision)) {
    throw new Error("malformed hash answer");
  }
  return parsed;
}

export interface MemberCheckInput {
  readonly id: NodeId;
  /** The member registry as of the last applied entry. */
  readonly registered: readonly MemberInfo[];
  /** The voters as the member knows them now (none before the log replayed to it). */
  readonly voters: readonly NodeId[];
  readonly kv: MvccStore;
  readonly transport: Transport;
  readonly logger: PinoLogger;
}

/** The check of a starting member, over its peer connections: what is wrong, or null. */
export async function checkMemberAgainstPeers(input: MemberCheckInput): Promise<string | null> {
  const { id, registered, kv, transport, logger } = input;
  // Until the log replays to the member (after the leader's first message), every registered
  // member counts as a voter.
  const voters = new Set(input.voters.length > 0 ? input.voters : registered.map((m) => m.id));
  const peers = registered
    .filter((m) => m.id !== id)
    .map((m) => ({ id: m.id, name: m.name || m.id.toString(16), isVoter: voters.has(m.id) }));
  if (peers.length === 0) return null;
  const started = performance.now();
  let result: CorruptionCheckResult;
  try {
    result = await initialCorruptionCheck({
      kv,
      peers,
      voterCount: voters.size,
      selfIsVoter: voters.has(id),
      hashOfPeer: async (peer, revision, timeoutMs) => {
        const request = encodePeerQuery({ query: "hash-history", revision });
        return decodeHashAnswer(await transport.query(peer, request, timeoutMs));
      },
      isNotConnected: (error) => error instanceof PeerNotConnectedError,
    });
  } catch (error) {
    // E.g. a compaction applied while hashing: the check proves nothing either way.
    logger.warn(`initial corruption check skipped: ${(error as Error).message}`);
    return null;
  }
  for (const note of result.notes) logger.warn(note);
  if (result.corrupt === null) {
    logger.info(
      `initial corruption check passed at revision ${result.revision} (${result.compared} peers agree) in ${Math.round(performance.now() - started)} ms`,
    );
  }
  return result.corrupt;
}
