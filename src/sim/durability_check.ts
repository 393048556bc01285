// The durability rule, checked at the moment a message leaves a member: a granted vote needs
// the vote on disk, an append acknowledgement the acknowledged entry. Otherwise a crash makes
// the member vote twice in a term, or lose entries a leader counted as replicated.
import type { LogStorage, Message, NodeId } from "../raft/index.ts";
import { MessageType } from "../raft/index.ts";
import type { Disk } from "./disk.ts";
import { InvariantViolation } from "./violation.ts";

/**
 * `log` is the member's whole log (what the core reads), `disk` what is durable. A promise made
 * in a term the disk has already left behind is covered by the later term: after a crash the
 * member refuses that term altogether.
 */
export function checkDurableBeforeSend(
  member: NodeId,
  message: Message,
  disk: Disk,
  log: LogStorage,
): void {
  if (message.reject || message.to === member) return;
  const isVote = message.type === MessageType.RequestVoteResponse;
  const isAck = message.type === MessageType.AppendResponse && message.index > 0;
  if (!isVote && !isAck) return;
  const hardState = disk.durableHardState();
  if (hardState.term > message.term) return;
  if (isVote) {
    if (hardState.term === message.term && hardState.vote === message.to) return;
    throw new InvariantViolation(
      "durability",
      `member ${member} grants its term-${message.term} vote to ${message.to} while its disk holds term ${hardState.term} vote ${hardState.vote}`,
    );
  }
  // An entry compacted into the durable snapshot is durable (and committed).
  if (message.index <= disk.durableSnapshot().metadata.index) return;
  const durableTerm = disk.durableTerm(message.index);
  if (
    hardState.term === message.term &&
    durableTerm !== null &&
    durableTerm === termInLog(log, message.index)
  )
    return;
  throw new InvariantViolation(
    "durability",
    `member ${member} acknowledges index ${message.index} in term ${message.term} to ${message.to} but its disk ` +
      `${durableTerm === null ? "does not hold that entry" : `holds term ${durableTerm} there`} (disk term ${hardState.term})`,
  );
}

function termInLog(log: LogStorage, index: number): number | null {
  if (index > log.lastIndex() || index < log.firstIndex() - 1) return null;
  return log.term(index);
}
