// The client requests a member is working on: writes waiting for their entry to be applied,
// reads waiting for their read state and then for the state machine to catch up with it.
// At most one of each per client (a client runs one operation at a time; a newer attempt
// replaces an abandoned one), so the tables are bounded by the number of clients.
import type { ReadState } from "../raft/index.ts";
import type { ClientRequest } from "./client_protocol.ts";
import { decodeReadRequestId, type KvCommand, requestKey } from "./command.ts";

interface PendingRead {
  readonly request: ClientRequest;
  /** From the read state; the read is served once the applied index reaches it. */
  readIndex: number | null;
}

export class PendingRequests {
  private readonly writes = new Map<number, ClientRequest>();
  private readonly reads = new Map<number, PendingRead>();

  addWrite(request: ClientRequest): void {
    this.writes.set(request.clientId, request);
  }

  addRead(request: ClientRequest): void {
    this.reads.set(request.clientId, { request, readIndex: null });
  }

  dropRead(request: ClientRequest): void {
    this.reads.delete(request.clientId);
  }

  /** The request `command` answers, if this member is the one that proposed it. */
  takeWrite(command: KvCommand): ClientRequest | null {
    const pending = this.writes.get(command.clientId);
    if (pending === undefined || pending.sequence !== command.sequence) return null;
    this.writes.delete(command.clientId);
    return pending;
  }

  acceptReadStates(readStates: readonly ReadState[]): void {
    for (const readState of readStates) {
      const key = decodeReadRequestId(readState.requestId);
      if (key === null) continue;
      const clientId = Number(key.split(".")[0]);
      const pending = this.reads.get(clientId);
      if (pending === undefined || pending.readIndex !== null) continue;
      if (requestKey(clientId, pending.request.sequence) !== key) continue;
      pending.readIndex = readState.index;
    }
  }

  /** Removes and returns the reads that the state machine, at `appliedIndex`, may now serve. */
  takeServableReads(appliedIndex: number): ClientRequest[] {
    const servable: ClientRequest[] = [];
    for (const [clientId, pending] of this.reads) {
      if (pending.readIndex === null || pending.readIndex > appliedIndex) continue;
      this.reads.delete(clientId);
      servable.push(pending.request);
    }
    return servable;
  }

  clear(): void {
    this.writes.clear();
    this.reads.clear();
  }
}
