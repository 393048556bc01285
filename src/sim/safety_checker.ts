// The Raft safety properties (Raft paper, Figure 3), checked as the run goes: each Ready and
// each applied entry is fed here, and the first violation throws an InvariantViolation.
import type { Entry, LogStorage, NodeId } from "../raft/index.ts";
import { InvariantViolation } from "./violation.ts";

interface LogRecord {
  readonly entry: Entry;
  /** Term of the entry before it, or -1 when the appender had it compacted. */
  prevTerm: number;
  readonly firstMember: NodeId;
}

interface CommitRecord {
  readonly entry: Entry;
  readonly firstMember: NodeId;
  /** An upper bound on the term in which the entry was committed (see onApplied). */
  commitTermBound: number;
}

/** Log-matching keys pack (index, term) in one number: terms stay far below 2^20 here. */
const TERM_SPACE = 1 << 20;

export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly logRecords = new Map<number, LogRecord>();
  private readonly committed: (CommitRecord | undefined)[] = [];
  private readonly stateTextAt = new Map<number, { text: string; member: NodeId }>();
  private maxCommitted = 0;

  get maxCommittedIndex(): number {
    return this.maxCommitted;
  }

  committedEntry(index: number): Entry | undefined {
    return this.committed[index]?.entry;
  }

  /**
   * Election safety, and leader completeness: every entry known to be committed in an
   * earlier term must be in the new leader's log (`log`: its storage after this Ready's
   * entries were written, i.e. its whole log).
   */
  onLeader(member: NodeId, term: number, log: LogStorage): void {
    const previous = this.leaderOfTerm.get(term);
    if (previous !== undefined && previous !== member) {
      throw new InvariantViolation(
        "election-safety",
        `members ${previous} and ${member} both led term ${term}`,
      );
    }
    this.leaderOfTerm.set(term, member);
    const lastIndex = log.lastIndex();
    for (let index = log.firstIndex(); index <= this.maxCommitted; index++) {
      const record = this.committed[index];
      if (record === undefined || record.commitTermBound >= term) continue;
      const have = index > lastIndex ? null : log.term(index);
      if (have !== record.entry.term) {
        throw new InvariantViolation(
          "leader-completeness",
          `member ${member} leads term ${term} without entry ${index} (term ${record.entry.term}, ` +
            `committed by term ${record.commitTermBound}, applied first by member ${record.firstMember}); ` +
            `its log has ${have === null ? "nothing" : `term ${have}`} there`,
        );
      }
    }
  }

  /**
   * Log matching, inductively: an entry with the same (index, term) as one seen before must
   * carry the same data and follow an entry of the same term. Called with the member's storage
   * after `entries` were appended to it.
   */
  onEntriesAppended(member: NodeId, entries: readonly Entry[], log: LogStorage): void {
    for (const entry of entries) {
      const prevTerm = termOrUnknown(log, entry.index - 1);
      const key = entry.index * TERM_SPACE + entry.term;
      const record = this.logRecords.get(key);
      if (record === undefined) {
        this.logRecords.set(key, { entry, prevTerm, firstMember: member });
        continue;
      }
      if (!sameData(record.entry, entry)) {
        throw new InvariantViolation(
          "log-matching",
          `entry ${entry.index} of term ${entry.term} differs between members ${record.firstMember} and ${member}`,
        );
      }
      if (record.prevTerm === -1) record.prevTerm = prevTerm;
      else if (prevTerm !== -1 && prevTerm !== record.prevTerm) {
        throw new InvariantViolation(
          "log-matching",
          `entry ${entry.index} of term ${entry.term} follows term ${record.prevTerm} on member ` +
            `${record.firstMember} but term ${prevTerm} on member ${member}`,
        );
      }
    }
  }

  /**
   * State machine safety: the first entry applied at an index fixes it for everyone.
   * `memberTerm` bounds the term the entry was committed in: a member learns a commit index
   * only from a leader of its current term or an earlier one.
   */
  onApplied(member: NodeId, entry: Entry, memberTerm: number): void {
    const record = this.committed[entry.index];
    if (record === undefined) {
      this.committed[entry.index] = { entry, firstMember: member, commitTermBound: memberTerm };
      if (entry.index > this.maxCommitted) this.maxCommitted = entry.index;
      return;
    }
    if (record.entry.term !== entry.term || !sameData(record.entry, entry)) {
      throw new InvariantViolation(
        "state-machine-safety",
        `member ${member} applied entry ${entry.index} of term ${entry.term}, but member ` +
          `${record.firstMember} applied one of term ${record.entry.term} there`,
      );
    }
    if (memberTerm < record.commitTermBound) record.commitTermBound = memberTerm;
  }

  /** The state after applying `index` must be the same on every member (snapshots included). */
  onStateAt(member: NodeId, index: number, canonicalText: string): void {
    const known = this.stateTextAt.get(index);
    if (known === undefined) {
      this.stateTextAt.set(index, { text: canonicalText, member });
      return;
    }
    if (known.text !== canonicalText) {
      throw new InvariantViolation(
        "state-machine-safety",
        `state after index ${index} differs: member ${known.member} has ${known.text}, member ${member} has ${canonicalText}`,
      );
    }
  }
}

function termOrUnknown(log: LogStorage, index: number): number {
  if (index < log.firstIndex() - 1) return -1;
  return log.term(index);
}

function sameData(a: Entry, b: Entry): boolean {
  if (a.type !== b.type) return false;
  if (a.data === b.data) return true;
  if (a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}
