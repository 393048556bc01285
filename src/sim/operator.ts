// The cluster's operator: membership changes (add a learner, promote it, remove a member, or
// several at once through a joint configuration) and leadership transfers, proposed on the
// current leader while faults go on. It never takes the cluster below three voters.
import type {
  ConfChange,
  ConfChangeSingle,
  ConfState,
  NodeId,
  SeededRandom,
} from "../raft/index.ts";
import { ConfChangeTransition, ConfChangeType, ProposalDroppedError } from "../raft/index.ts";
import type { SimCluster } from "./cluster.ts";
import type { SimMember } from "./member.ts";
import { describeConfChange } from "./membership_text.ts";
import { pick } from "./random_helpers.ts";

type MembershipAction =
  | "add-learner"
  | "promote"
  | "remove-voter"
  | "remove-learner"
  | "replace-joint"
  | "swap-joint";

const MIN_VOTERS = 3;
const NO_CONTEXT = new Uint8Array(0);

export class Operator {
  membershipChanges = 0;
  transfers = 0;

  constructor(
    private readonly cluster: SimCluster,
    private readonly random: SeededRandom,
    private readonly maxMembers: number,
  ) {}

  changeMembership(): void {
    const leader = this.cluster.leader();
    if (leader === null) {
      this.note(null, "membership change skipped: no leader");
      return;
    }
    const conf = leader.confState;
    if (conf.votersOutgoing.length > 0) {
      this.note(leader, "membership change skipped: config is joint");
      return;
    }
    const actions = possibleActions(conf, this.maxMembers);
    if (actions.length === 0) return;
    const action = pick(this.random, actions);
    const joining =
      action === "add-learner" || action === "swap-joint" ? this.cluster.peekNextMemberId() : null;
    const change = this.buildChange(action, conf, leader.id, joining);
    const refusal = propose(leader, change);
    const text = describeConfChange(change);
    if (refusal !== null) {
      this.note(leader, `proposed ${action} [${text}]: refused (${refusal})`);
      return;
    }
    this.membershipChanges++;
    this.note(leader, `proposed ${action} [${text}]`);
    if (joining !== null) this.cluster.addMember();
  }

  private buildChange(
    action: MembershipAction,
    conf: ConfState,
    leaderId: NodeId,
    joining: NodeId | null,
  ): ConfChange {
    const single = (type: ConfChangeType, nodeId: NodeId): ConfChangeSingle => ({ type, nodeId });
    const anyVoter = () => pick(this.random, conf.voters);
    // Removing the leader itself is allowed and interesting, but not every time.
    const voterToRemove = () =>
      this.random.chance(0.3)
        ? leaderId
        : pick(
            this.random,
            conf.voters.filter((id) => id !== leaderId),
          );
    switch (action) {
      case "add-learner":
        return simple([single(ConfChangeType.AddLearnerNode, joining!)]);
      case "promote":
        return simple([single(ConfChangeType.AddNode, pick(this.random, conf.learners))]);
      case "remove-voter":
        return simple([single(ConfChangeType.RemoveNode, voterToRemove())]);
      case "remove-learner":
        return simple([single(ConfChangeType.RemoveNode, pick(this.random, conf.learners))]);
      case "replace-joint":
        // Promote a learner and retire a voter in one step, through a joint configuration.
        return joint([
          single(ConfChangeType.AddNode, pick(this.random, conf.learners)),
          single(ConfChangeType.RemoveNode, voterToRemove()),
        ]);
      case "swap-joint":
        // Demote a voter to learner while a new member joins as learner.
        return joint([
          single(ConfChangeType.AddLearnerNode, anyVoter()),
          single(ConfChangeType.AddLearnerNode, joining!),
        ]);
    }
  }

  transferLeadership(): void {
    const leader = this.cluster.leader();
    if (leader === null) {
      this.note(null, "transfer skipped: no leader");
      return;
    }
    const candidates = leader.confState.voters.filter((id) => id !== leader.id);
    if (candidates.length === 0) return;
    const target = pick(this.random, candidates);
    leader.withNode((node) => node.transferLeadership(target));
    this.transfers++;
    this.note(leader, `asked to transfer leadership to n${target}`);
  }

  private note(leader: SimMember | null, what: string): void {
    this.cluster.traceLine(leader?.name ?? "op", `operator: ${what}`);
  }
}

function possibleActions(conf: ConfState, maxMembers: number): MembershipAction[] {
  const actions: MembershipAction[] = [];
  const voters = conf.voters.length;
  const learners = conf.learners.length;
  if (voters + learners < maxMembers) actions.push("add-learner");
  if (learners > 0) actions.push("promote", "remove-learner");
  if (voters > MIN_VOTERS) actions.push("remove-voter");
  if (learners > 0 && voters >= MIN_VOTERS) actions.push("replace-joint");
  if (voters > MIN_VOTERS && voters + learners < maxMembers) actions.push("swap-joint");
  return actions;
}

function simple(changes: ConfChangeSingle[]): ConfChange {
  return { transition: ConfChangeTransition.Auto, changes, context: NO_CONTEXT };
}

function joint(changes: ConfChangeSingle[]): ConfChange {
  return { transition: ConfChangeTransition.JointImplicit, changes, context: NO_CONTEXT };
}

/** Proposes on the leader; returns the refusal reason, or null if it was accepted. */
function propose(leader: SimMember, change: ConfChange): string | null {
  let refusal: string | null = "member is paused";
  leader.withNode((node) => {
    try {
      node.proposeConfChange(change);
      refusal = null;
    } catch (error) {
      if (!(error instanceof ProposalDroppedError)) throw error;
      refusal = error.reason;
    }
  });
  return refusal;
}
