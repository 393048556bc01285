// Short, stable descriptions of Raft messages for the trace.
import type { Message } from "../raft/index.ts";
import { MessageType } from "../raft/index.ts";

const NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(MessageType).map(([name, value]) => [value, name]),
);

export function messageTypeName(type: number): string {
  return NAMES[type] ?? `Type${type}`;
}

export function describeMessage(message: Message): string {
  const parts = [
    `${messageTypeName(message.type)} ${message.from}->${message.to} t${message.term}`,
  ];
  switch (message.type) {
    case MessageType.Append:
      parts.push(
        `prev ${message.index}/${message.logTerm} n=${message.entries.length} commit ${message.commit}`,
      );
      break;
    case MessageType.AppendResponse:
      parts.push(
        message.reject
          ? `reject ${message.index} hint ${message.rejectHint}/${message.logTerm}`
          : `index ${message.index}`,
      );
      break;
    case MessageType.RequestVote:
    case MessageType.RequestPreVote:
      parts.push(`last ${message.index}/${message.logTerm}`);
      break;
    case MessageType.RequestVoteResponse:
    case MessageType.RequestPreVoteResponse:
      parts.push(message.reject ? "reject" : "grant");
      break;
    case MessageType.Heartbeat:
      parts.push(`commit ${message.commit} tick ${message.index}`);
      break;
    case MessageType.InstallSnapshot:
      parts.push(
        `snapshot ${message.snapshot?.metadata.index ?? "?"}/${message.snapshot?.metadata.term ?? "?"}`,
      );
      break;
    case MessageType.Propose:
      parts.push(`n=${message.entries.length}`);
      break;
    case MessageType.ReadIndexResponse:
      parts.push(`index ${message.index}`);
      break;
  }
  return parts.join(" ");
}
