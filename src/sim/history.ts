// The clients' history, in the form the linearizability checker reads. An operation that
// certainly had no effect (refused before proposing, or a read that never returned) is
// discarded; a write that may or may not have happened keeps `return: null`.
import type { KvOperation } from "../check/index.ts";
import type { ClientOp } from "./command.ts";

interface HistoryRecord {
  operation: KvOperation;
  /** The client's sequence number: the request id inside the entry, to resolve outcomes. */
  readonly sequence: number;
  discarded: boolean;
}

/** What the simulator saw of a command when a member first applied it. */
export interface AppliedOutcome {
  readonly firstAppliedUs: number;
  /** The result; null when the state machine dropped it (a stale or duplicate attempt). */
  readonly ok: boolean | null;
}

export type HistoryHandle = HistoryRecord;

export class History {
  private readonly records: HistoryRecord[] = [];

  begin(
    client: number,
    sequence: number,
    op: ClientOp,
    key: string,
    value: string | null,
    expect: string | null,
    callUs: number,
  ): HistoryHandle {
    const record: HistoryRecord = {
      operation: {
        client,
        op,
        key,
        value,
        expect,
        ok: null,
        output: null,
        call: callUs,
        return: null,
      },
      sequence,
      discarded: false,
    };
    this.records.push(record);
    return record;
  }

  completeWrite(handle: HistoryHandle, ok: boolean, returnUs: number): void {
    handle.operation = { ...handle.operation, ok, return: returnUs };
  }

  completeRead(handle: HistoryHandle, output: string | null, returnUs: number): void {
    handle.operation = { ...handle.operation, ok: true, output, return: returnUs };
  }

  discard(handle: HistoryHandle): void {
    handle.discarded = true;
  }

  /** The history so far; a read still in progress has had no effect and is left out. */
  operations(): KvOperation[] {
    return this.records
      .filter(
        (record) =>
          !record.discarded && !(record.operation.op === "get" && record.operation.return === null),
      )
      .map((record) => record.operation);
  }

  /**
   * The history with every unknown write outcome settled from what the simulator saw: a write
   * no member applied (or that the state machine dropped) had no effect and is left out; one
   * that was applied took effect between its call and its first application, so that is its
   * return. Sound (the real execution is one such linearization) and far cheaper to check.
   */
  resolvedOperations(
    outcomeOf: (client: number, sequence: number) => AppliedOutcome | undefined,
  ): KvOperation[] {
    const resolved: KvOperation[] = [];
    for (const record of this.records) {
      const operation = record.operation;
      if (!isInHistory(record)) continue;
      if (operation.return !== null) {
        resolved.push(operation);
        continue;
      }
      const outcome = outcomeOf(operation.client, record.sequence);
      if (outcome === undefined || outcome.ok === null) continue;
      resolved.push({
        ...operation,
        ok: outcome.ok,
        return: Math.max(operation.call, outcome.firstAppliedUs),
      });
    }
    return resolved;
  }

  get size(): number {
    return this.records.length;
  }
}

/** Discarded attempts had no effect, nor has a read still in progress. */
function isInHistory(record: HistoryRecord): boolean {
  return !record.discarded && !(record.operation.op === "get" && record.operation.return === null);
}
