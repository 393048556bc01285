// What a client asks for, and how it travels inside a log entry. Every command carries its
// client and sequence number: the member that proposed it recognizes it when it applies the
// entry, and the state machine drops a duplicate (a proposal delivered twice by the network).

export type WriteOp = "put" | "delete" | "cas";
export type ClientOp = WriteOp | "get";

export interface KvCommand {
  readonly clientId: number;
  readonly sequence: number;
  readonly op: WriteOp;
  readonly key: string;
  /** put / cas: the value written. */
  readonly value: string | null;
  /** cas: the value required (null: the key must be absent). */
  readonly expect: string | null;
}

export interface KvResult {
  /** put / delete: always true; cas: whether the value matched and was written. */
  readonly ok: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(command: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

/**
 * Every member applies the same entry objects (messages carry them by reference), so each
 * command is decoded once. Keyed weakly: the cache lives only as long as the entry.
 */
const decoded = new WeakMap<Uint8Array, KvCommand>();

/** Empty data is the leader's no-op (and a refused forwarded conf change): not a command. */
export function decodeCommand(data: Uint8Array): KvCommand | null {
  if (data.length === 0) return null;
  let command = decoded.get(data);
  if (command === undefined) {
    command = JSON.parse(decoder.decode(data)) as KvCommand;
    decoded.set(data, command);
  }
  return command;
}

/** The key that ties a request, its entry or read state, and its answer together. */
export function requestKey(clientId: number, sequence: number): string {
  return `${clientId}.${sequence}`;
}

export function encodeReadRequestId(clientId: number, sequence: number): Uint8Array {
  return encoder.encode(`read:${requestKey(clientId, sequence)}`);
}

export function decodeReadRequestId(requestId: Uint8Array): string | null {
  const text = decoder.decode(requestId);
  return text.startsWith("read:") ? text.slice(5) : null;
}
