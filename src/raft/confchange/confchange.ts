// Membership transitions (etcd's confchange package). A simple change moves at most one voter,
// which keeps any majority of the old config overlapping any majority of the new one. Anything
// bigger goes through a joint configuration (Raft thesis §4.3): decisions need both the
// outgoing and the incoming majorities until the joint config is left.
import {
  Progress,
  type ProgressMap,
  ProgressTracker,
  sortedIds,
  type TrackerConfig,
} from "../tracker/index.ts";
import { type ConfChangeSingle, ConfChangeType, type ConfState, type NodeId } from "../types.ts";

export class ConfChangeError extends Error {
  override readonly name = "ConfChangeError";
}

export interface ConfigAndProgress {
  config: TrackerConfig;
  progress: ProgressMap;
}

/** A private, mutable copy of a configuration that changes are applied to. */
interface Draft {
  readonly incoming: Set<NodeId>;
  readonly outgoing: Set<NodeId>;
  readonly learners: Set<NodeId>;
  readonly learnersNext: Set<NodeId>;
  autoLeave: boolean;
  readonly progress: ProgressMap;
}

export class ConfChanger {
  constructor(
    private readonly tracker: ProgressTracker,
    private readonly lastIndex: number,
  ) {}

  /** Enters a joint configuration: the current voters become the outgoing half. */
  enterJoint(autoLeave: boolean, changes: readonly ConfChangeSingle[]): ConfigAndProgress {
    const draft = this.draft();
    if (draft.outgoing.size > 0) throw new ConfChangeError("config is already joint");
    if (draft.incoming.size === 0) {
      // An empty config may be filled by simple changes (bootstrap), but a joint config with
      // an empty half would let the other half decide alone.
      throw new ConfChangeError("can't make a zero-voter config joint");
    }
    for (const id of draft.incoming) draft.outgoing.add(id);
    this.apply(draft, changes);
    draft.autoLeave = autoLeave;
    return finish(draft);
  }

  /** Leaves the joint configuration: the incoming half alone decides from now on. */
  leaveJoint(): ConfigAndProgress {
    const draft = this.draft();
    if (draft.outgoing.size === 0) throw new ConfChangeError("can't leave a non-joint config");
    for (const id of draft.learnersNext) {
      draft.learners.add(id);
      draft.progress.get(id)!.isLearner = true;
    }
    draft.learnersNext.clear();
    for (const id of draft.outgoing) {
      if (!draft.incoming.has(id) && !draft.learners.has(id)) draft.progress.delete(id);
    }
    draft.outgoing.clear();
    draft.autoLeave = false;
    return finish(draft);
  }

  /** Applies changes directly; refused if more than one voter would change. */
  simple(changes: readonly ConfChangeSingle[]): ConfigAndProgress {
    const draft = this.draft();
    if (draft.outgoing.size > 0) {
      throw new ConfChangeError("can't apply simple config change in joint config");
    }
    this.apply(draft, changes);
    if (symmetricDifferenceSize(this.tracker.config.voters[0], draft.incoming) > 1) {
      throw new ConfChangeError("more than one voter changed without entering joint config");
    }
    return finish(draft);
  }

  /** Copies the current configuration and progress, checking them first. */
  private draft(): Draft {
    const { config, progress } = this.tracker;
    const copy = new Map<NodeId, Progress>();
    for (const [id, member] of progress) copy.set(id, member.clone());
    const draft: Draft = {
      incoming: new Set(config.voters[0]),
      outgoing: new Set(config.voters[1]),
      learners: new Set(config.learners),
      learnersNext: new Set(config.learnersNext),
      autoLeave: config.autoLeave,
      progress: copy,
    };
    checkInvariants(draft);
    return draft;
  }

  private apply(draft: Draft, changes: readonly ConfChangeSingle[]): void {
    for (const change of changes) {
      // The application may void a change by zeroing its id (as etcd does): skip it.
      if (change.nodeId === 0) continue;
      switch (change.type) {
        case ConfChangeType.AddNode:
          this.makeVoter(draft, change.nodeId);
          break;
        case ConfChangeType.AddLearnerNode:
          this.makeLearner(draft, change.nodeId);
          break;
        case ConfChangeType.RemoveNode:
          remove(draft, change.nodeId);
          break;
        default:
          throw new ConfChangeError(`unexpected conf change type ${String(change.type)}`);
      }
    }
    if (draft.incoming.size === 0) throw new ConfChangeError("removed all voters");
  }

  private makeVoter(draft: Draft, id: NodeId): void {
    const member = draft.progress.get(id);
    if (member === undefined) {
      this.addMember(draft, id, false);
      return;
    }
    member.isLearner = false;
    draft.learners.delete(id);
    draft.learnersNext.delete(id);
    draft.incoming.add(id);
  }

  private makeLearner(draft: Draft, id: NodeId): void {
    const member = draft.progress.get(id);
    if (member === undefined) {
      this.addMember(draft, id, true);
      return;
    }
    if (member.isLearner) return;
    // Demote, keeping the progress: the member keeps its log.
    remove(draft, id);
    draft.progress.set(id, member);
    if (draft.outgoing.has(id)) {
      // Still a voter of the outgoing half: it can only become a learner on leaving.
      draft.learnersNext.add(id);
    } else {
      member.isLearner = true;
      draft.learners.add(id);
    }
  }

  private addMember(draft: Draft, id: NodeId, isLearner: boolean): void {
    if (isLearner) draft.learners.add(id);
    else draft.incoming.add(id);
    draft.progress.set(
      id,
      new Progress({
        // Probe from our last index: the new member most likely has nothing, and the probe's
        // rejection hint walks back (or leads to a snapshot) from there.
        match: 0,
        next: Math.max(this.lastIndex, 1),
        maxInflightMessages: this.tracker.maxInflightMessages,
        maxInflightBytes: this.tracker.maxInflightBytes,
        isLearner,
        // Counted as active so that CheckQuorum does not depose the leader before the new
        // member had a chance to answer.
        recentActive: true,
      }),
    );
  }
}

function remove(draft: Draft, id: NodeId): void {
  if (!draft.progress.has(id)) return;
  draft.incoming.delete(id);
  draft.learners.delete(id);
  draft.learnersNext.delete(id);
  // A voter of the outgoing half still takes part in decisions until the joint config is left.
  if (!draft.outgoing.has(id)) draft.progress.delete(id);
}

function symmetricDifferenceSize(a: ReadonlySet<NodeId>, b: ReadonlySet<NodeId>): number {
  let size = 0;
  for (const id of a) if (!b.has(id)) size++;
  for (const id of b) if (!a.has(id)) size++;
  return size;
}

function finish(draft: Draft): ConfigAndProgress {
  checkInvariants(draft);
  const config: TrackerConfig = {
    voters: [draft.incoming, draft.outgoing],
    learners: draft.learners,
    learnersNext: draft.learnersNext,
    autoLeave: draft.autoLeave,
  };
  return { config, progress: draft.progress };
}

/** What must hold of every configuration; a violation is a bug in this module or its input. */
function checkInvariants(draft: Draft): void {
  const fail = (what: string): never => {
    throw new ConfChangeError(`invalid config: ${what}`);
  };
  const members = new Set([
    ...draft.incoming,
    ...draft.outgoing,
    ...draft.learners,
    ...draft.learnersNext,
  ]);
  for (const id of sortedIds(members)) {
    if (!draft.progress.has(id)) fail(`no progress for ${id}`);
  }
  for (const id of sortedIds(draft.progress.keys())) {
    if (!members.has(id)) fail(`progress for ${id}, which is not a member`);
  }
  for (const id of sortedIds([...draft.incoming, ...draft.outgoing])) {
    if (draft.progress.get(id)!.isLearner) fail(`${id} is a voter, but is marked as learner`);
  }
  // A staged learner was staged only because it is still a voter of the outgoing half.
  for (const id of sortedIds(draft.learnersNext)) {
    if (!draft.outgoing.has(id)) fail(`${id} is in learners_next, but not an outgoing voter`);
  }
  for (const id of sortedIds(draft.learners)) {
    if (draft.incoming.has(id)) fail(`${id} is in learners and incoming voters`);
    if (draft.outgoing.has(id)) fail(`${id} is in learners and outgoing voters`);
    if (!draft.progress.get(id)!.isLearner)
      fail(`${id} is in learners, but is not marked as learner`);
  }
  if (draft.outgoing.size === 0) {
    if (draft.learnersNext.size > 0) fail("learners_next must be empty when not joint");
    if (draft.autoLeave) fail("autoLeave must be false when not joint");
  }
}

/**
 * Builds the configuration a ConfState describes (on restart or snapshot install), the way
 * etcd's Restore does: through the changes that lead there from an empty config, so every
 * step is validated. A joint ConfState is reached by first making the outgoing voters the
 * config, then entering the joint config with the incoming side.
 */
export function restoreConfState(
  confState: ConfState,
  lastIndex: number,
  maxInflightMessages: number,
  maxInflightBytes: number,
): ConfigAndProgress {
  const tracker = new ProgressTracker(maxInflightMessages, maxInflightBytes);
  const step = (change: (changer: ConfChanger) => ConfigAndProgress): void => {
    const next = change(new ConfChanger(tracker, lastIndex));
    tracker.config = next.config;
    tracker.progress = next.progress;
  };
  const addVoter = (nodeId: NodeId) => ({ type: ConfChangeType.AddNode, nodeId });
  const addLearner = (nodeId: NodeId) => ({ type: ConfChangeType.AddLearnerNode, nodeId });
  const incoming: ConfChangeSingle[] = [
    // Undo the outgoing voters, then build the incoming side on top.
    ...confState.votersOutgoing.map((nodeId) => ({ type: ConfChangeType.RemoveNode, nodeId })),
    ...confState.voters.map(addVoter),
    ...confState.learners.map(addLearner),
    // Voters of the outgoing half that become learners on leaving: they land in learnersNext.
    ...confState.learnersNext.map(addLearner),
  ];
  if (confState.votersOutgoing.length === 0) {
    for (const change of incoming) step((changer) => changer.simple([change]));
  } else {
    for (const id of confState.votersOutgoing) step((changer) => changer.simple([addVoter(id)]));
    step((changer) => changer.enterJoint(confState.autoLeave, incoming));
  }
  assertEquivalent(confState, tracker.confState());
  return { config: tracker.config, progress: tracker.progress };
}

/** Rejects a ConfState that no sequence of valid changes produces (e.g. a voter also a learner). */
function assertEquivalent(wanted: ConfState, restored: ConfState): void {
  const same = (a: readonly NodeId[], b: readonly NodeId[]) =>
    sortedIds(new Set(a)).join(" ") === sortedIds(new Set(b)).join(" ");
  const equivalent =
    same(wanted.voters, restored.voters) &&
    same(wanted.votersOutgoing, restored.votersOutgoing) &&
    same(wanted.learners, restored.learners) &&
    same(wanted.learnersNext, restored.learnersNext) &&
    wanted.autoLeave === restored.autoLeave;
  if (!equivalent) {
    throw new ConfChangeError(
      `conf state ${JSON.stringify(wanted)} restores as ${JSON.stringify(restored)}`,
    );
  }
}
