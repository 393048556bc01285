// The replicated state machine: a tiny deterministic key-value map plus the session table
// that makes applying a command exactly-once (per client, the last sequence applied and its
// result). Both are in the snapshot, so a member restored from one dedupes the same way.
import type { KvCommand, KvResult } from "./command.ts";

interface Session {
  readonly lastSequence: number;
  readonly lastResult: KvResult;
}

export interface ApplyOutcome {
  /** The command's result, or null when it was dropped as a duplicate or stale retry. */
  readonly result: KvResult | null;
}

interface SnapshotImage {
  readonly values: [string, string][];
  readonly sessions: [number, number, boolean][];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class KvStore {
  private readonly values = new Map<string, string>();
  private readonly sessions = new Map<number, Session>();

  get(key: string): string | null {
    return this.values.get(key) ?? null;
  }

  /**
   * A client runs one operation at a time and numbers them upwards, so a sequence at or below
   * the last one applied is a duplicate or an abandoned attempt overtaken by a later one:
   * dropping it is what the client's "unknown outcome" already allows.
   */
  apply(command: KvCommand): ApplyOutcome {
    const session = this.sessions.get(command.clientId);
    if (session !== undefined && command.sequence <= session.lastSequence) return { result: null };
    const result = this.execute(command);
    this.sessions.set(command.clientId, { lastSequence: command.sequence, lastResult: result });
    return { result };
  }

  private execute(command: KvCommand): KvResult {
    const current = this.values.get(command.key) ?? null;
    switch (command.op) {
      case "put":
        this.values.set(command.key, command.value ?? "");
        return { ok: true };
      case "delete":
        this.values.delete(command.key);
        return { ok: true };
      case "cas":
        if (current !== command.expect) return { ok: false };
        if (command.value === null) this.values.delete(command.key);
        else this.values.set(command.key, command.value);
        return { ok: true };
    }
  }

  /** Deterministic bytes: keys and sessions sorted, so equal states encode equally. */
  encode(): Uint8Array {
    return encoder.encode(this.canonicalText());
  }

  static decode(data: Uint8Array): KvStore {
    const store = new KvStore();
    if (data.length === 0) return store;
    const image = JSON.parse(decoder.decode(data)) as SnapshotImage;
    for (const [key, value] of image.values) store.values.set(key, value);
    for (const [clientId, lastSequence, ok] of image.sessions) {
      store.sessions.set(clientId, { lastSequence, lastResult: { ok } });
    }
    return store;
  }

  /** The canonical text of the state: equal states, equal text (used to compare members). */
  canonicalText(): string {
    const values = [...this.values].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const sessions: [number, number, boolean][] = [...this.sessions]
      .sort((a, b) => a[0] - b[0])
      .map(([clientId, session]) => [clientId, session.lastSequence, session.lastResult.ok]);
    const image: SnapshotImage = { values, sessions };
    return JSON.stringify(image);
  }
}
