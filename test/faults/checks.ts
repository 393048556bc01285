// What a finished run must satisfy, each check returning the problems it found (none: passed).
// The histories come from the client workers' files; the final states from every member.
import { checkKvHistory, type KvOperation } from "../../src/check/index.ts";
import type { WatchRecord } from "./worker_protocol.ts";

/** A key's value on one member at the end: key (without the run's prefix) → value. */
export type FinalState = ReadonlyMap<string, string>;

export interface CheckOutcome {
  readonly name: string;
  readonly problems: readonly string[];
  /** For the linearizability check: the checker's own verdict. */
  readonly verdict?: string;
}

const MAX_LISTED = 5;

function listed(problems: string[]): string[] {
  return problems.length <= MAX_LISTED
    ? problems
    : [...problems.slice(0, MAX_LISTED), `… and ${problems.length - MAX_LISTED} more`];
}

export function checkLinearizable(history: readonly KvOperation[]): CheckOutcome {
  const result = checkKvHistory(history);
  const problems =
    result.verdict === "linearizable"
      ? []
      : [`${result.verdict} on key ${result.failingKey}: ${result.explanation ?? ""}`];
  return { name: "linearizable", problems, verdict: result.verdict };
}

/** Every acknowledged write of a key written only once is on every member at the end. */
export function checkAcknowledgedWrites(
  history: readonly KvOperation[],
  finals: ReadonlyMap<string, FinalState>,
): CheckOutcome {
  const problems: string[] = [];
  for (const op of history) {
    if (op.op !== "put" || op.return === null || !op.key.startsWith("u")) continue;
    for (const [member, state] of finals) {
      const found = state.get(op.key);
      if (found !== op.value) {
        problems.push(
          `acknowledged put ${op.key}=${op.value} (client ${op.client}) is ${found === undefined ? "missing" : `"${found}"`} on ${member}`,
        );
      }
    }
  }
  return { name: "no acknowledged write lost", problems: listed(problems) };
}

/** Every member ends with the same keys and values, and the same state hash. */
export function checkConvergence(
  finals: ReadonlyMap<string, FinalState>,
  hashes: ReadonlyMap<string, string>,
): CheckOutcome {
  const problems: string[] = [];
  const [first, ...rest] = [...finals.entries()];
  if (first !== undefined) {
    for (const [member, state] of rest) {
      const differing = [...new Set([...first[1].keys(), ...state.keys()])].filter(
        (key) => first[1].get(key) !== state.get(key),
      );
      if (differing.length > 0) {
        problems.push(
          `${member} differs from ${first[0]} on ${differing.length} keys, e.g. ${differing[0]}`,
        );
      }
    }
  }
  const distinct = new Set(hashes.values());
  if (distinct.size > 1) {
    problems.push(`state hashes differ: ${[...hashes].map(([m, h]) => `${m}=${h}`).join(", ")}`);
  }
  return { name: "members converge", problems: listed(problems) };
}

/** A serializable read may be stale, but it never returns a value no one tried to write. */
export function checkSerializableReads(
  reads: readonly KvOperation[],
  history: readonly KvOperation[],
): CheckOutcome {
  const written = new Set<string>();
  for (const op of history) {
    if ((op.op === "put" || op.op === "cas") && op.value !== null)
      written.add(`${op.key}\0${op.value}`);
  }
  const problems = reads
    .filter((read) => read.output !== null && !written.has(`${read.key}\0${read.output}`))
    .map(
      (read) => `serializable get ${read.key} read "${read.output}", which was never written to it`,
    );
  return { name: "serializable reads", problems: listed(problems) };
}

/**
 * A watch sees every revision once, in order, from where it started to the final revision
 * (every write of a run is to its key space, so each revision is one event), and replaying a
 * watch that started at the beginning gives the final state.
 */
export function checkWatch(
  label: string,
  records: readonly WatchRecord[],
  finalRevision: number,
  finalState: FinalState,
): CheckOutcome {
  const problems: string[] = [];
  const opened = records.find((r) => r.kind === "opened");
  if (opened === undefined || opened.kind !== "opened") {
    return { name: `watch ${label}`, problems: ["the watch never opened"] };
  }
  let expected = opened.startRevision;
  const replay = new Map<string, string>();
  for (const record of records) {
    if (record.kind !== "event") continue;
    if (record.revision < expected) {
      problems.push(
        `revision ${record.revision} (${record.key}) seen again or out of order, after ${expected - 1}`,
      );
      continue;
    }
    if (record.revision > expected) {
      problems.push(`revisions ${expected}–${record.revision - 1} were never delivered`);
    }
    expected = record.revision + 1;
    if (record.type === "put") replay.set(record.key, record.value!);
    else replay.delete(record.key);
  }
  if (expected <= finalRevision) {
    problems.push(
      `the watch stopped at revision ${expected - 1}, before the final ${finalRevision}`,
    );
  }
  if (opened.startRevision === 2 && problems.length === 0) {
    for (const key of new Set([...replay.keys(), ...finalState.keys()])) {
      if (replay.get(key) !== finalState.get(key)) {
        problems.push(
          `replaying the watch gives ${key}=${replay.get(key)}, the store has ${finalState.get(key)}`,
        );
      }
    }
  }
  return { name: `watch ${label}`, problems: listed(problems) };
}
