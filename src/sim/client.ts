// A client of the cluster, as a real one behaves: one operation at a time, sent to some member;
// on a timeout or a refusal it gives up on that attempt and retries as a new operation at
// another member. Every attempt that may have had an effect goes into the history.
import type { NodeId, SeededRandom } from "../raft/index.ts";
import { NONE } from "../raft/index.ts";
import type { ClientReply, ClientRequest } from "./client_protocol.ts";
import type { ClientOp } from "./command.ts";
import type { History, HistoryHandle } from "./history.ts";
import { pick, pickWeighted } from "./random_helpers.ts";
import type { Workload } from "./scenario.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Trace } from "./trace.ts";

export interface ClientHost {
  readonly scheduler: Scheduler;
  readonly trace: Trace;
  readonly history: History;
  readonly baseTickUs: number;
  /** Members a client may talk to: those in the latest configuration it could know of. */
  clientTargets(): readonly NodeId[];
  sendClientRequest(member: NodeId, request: ClientRequest): void;
}

interface Attempt {
  readonly request: ClientRequest;
  readonly member: NodeId;
  readonly history: HistoryHandle;
}

const OP_WEIGHTS: Readonly<Record<ClientOp, number>> = { get: 40, put: 25, cas: 20, delete: 15 };
/** Chance a client goes to the member it believes leads rather than any member. */
const LEADER_HINT_CHANCE = 0.75;

export interface ClientStats {
  completed: number;
  unknown: number;
  refused: number;
  timedOutReads: number;
}

export class SimClient {
  readonly stats: ClientStats = { completed: 0, unknown: 0, refused: 0, timedOutReads: 0 };
  /** Call time of the latest operation that completed (for the liveness check). */
  lastCompletedCallUs = -1;
  private sequence = 0;
  private attempt: Attempt | null = null;
  private leaderHint: NodeId = NONE;
  private lastFailedMember: NodeId = NONE;
  private readonly knownValues = new Map<string, string | null>();
  private stopped = false;

  constructor(
    readonly id: number,
    private readonly host: ClientHost,
    private readonly random: SeededRandom,
    private readonly workload: Workload,
  ) {}

  start(): void {
    this.host.scheduler.after(this.thinkUs(), () => this.issue(null));
  }

  /** Stops issuing new operations (the one in progress may still complete). */
  stop(): void {
    this.stopped = true;
  }

  get inProgress(): boolean {
    return this.attempt !== null;
  }

  /** `retryOf`: the op and key of an attempt that failed, retried as a new operation. */
  private issue(retryOf: { op: ClientOp; key: string } | null): void {
    if (this.stopped || this.attempt !== null) return;
    const targets = this.host.clientTargets();
    if (targets.length === 0) {
      this.host.scheduler.after(this.host.baseTickUs, () => this.issue(retryOf));
      return;
    }
    const request = this.nextRequest(retryOf);
    const member = this.chooseMember(targets);
    const now = this.host.scheduler.nowUs;
    const history = this.host.history.begin(
      this.id,
      request.sequence,
      request.op,
      request.key,
      request.value,
      request.expect,
      now,
    );
    this.attempt = { request, member, history };
    if (this.host.trace.enabled)
      this.host.trace.line(now, `c${this.id}`, `call ${describeRequest(request)} at n${member}`);
    this.host.sendClientRequest(member, request);
    const sequence = request.sequence;
    const timeoutUs = this.workload.clientTimeoutTicks * this.host.baseTickUs;
    this.host.scheduler.after(timeoutUs, () => {
      if (this.attempt?.request.sequence === sequence) this.onTimeout();
    });
  }

  private nextRequest(retryOf: { op: ClientOp; key: string } | null): ClientRequest {
    const sequence = ++this.sequence;
    const op = retryOf?.op ?? pickWeighted(this.random, OP_WEIGHTS);
    const key = retryOf?.key ?? pick(this.random, this.workload.keys);
    const writes = op === "put" || op === "cas";
    return {
      clientId: this.id,
      sequence,
      op,
      key,
      // Unique values make the history easy to check: each read names the write it saw.
      value: writes ? `c${this.id}.${sequence}` : null,
      expect: op === "cas" ? this.chooseExpected(key) : null,
      lease: op === "get" && this.random.chance(this.workload.leaseReadChance),
    };
  }

  /** Mostly the value last seen, so that some compare-and-swaps succeed. */
  private chooseExpected(key: string): string | null {
    const roll = this.random.nextFloat();
    if (roll < 0.6) return this.knownValues.get(key) ?? null;
    if (roll < 0.8) return null;
    const seen = [...this.knownValues.values()].filter((value): value is string => value !== null);
    return seen.length > 0 ? pick(this.random, seen) : null;
  }

  private chooseMember(targets: readonly NodeId[]): NodeId {
    const hint = this.leaderHint;
    if (
      hint !== NONE &&
      hint !== this.lastFailedMember &&
      targets.includes(hint) &&
      this.random.chance(LEADER_HINT_CHANCE)
    ) {
      return hint;
    }
    const others = targets.filter((id) => id !== this.lastFailedMember);
    return pick(this.random, others.length > 0 ? others : targets);
  }

  onReply(reply: ClientReply): void {
    const attempt = this.attempt;
    if (attempt === null || attempt.request.sequence !== reply.sequence) return; // a stale answer
    const now = this.host.scheduler.nowUs;
    this.attempt = null;
    if (reply.kind === "dropped") {
      // Refused before it was proposed: certainly no effect, so not part of the history.
      this.host.history.discard(attempt.history);
      this.stats.refused++;
      this.leaderHint = reply.leaderHint;
      this.lastFailedMember = attempt.member;
      this.traceLine(
        `refused by n${reply.member} (${reply.reason}), leader hint ${reply.leaderHint || "-"}`,
      );
      // With no leader known anywhere, hammering the members only wastes their time.
      const backoffUs = reply.leaderHint === NONE ? this.backoffUs() * 3 : this.backoffUs();
      this.host.scheduler.after(backoffUs, () => this.issue(attempt.request));
      return;
    }
    this.stats.completed++;
    this.lastCompletedCallUs = attempt.history.operation.call;
    this.leaderHint = reply.member;
    this.lastFailedMember = NONE;
    if (reply.kind === "read") {
      this.host.history.completeRead(attempt.history, reply.value, now);
      this.knownValues.set(attempt.request.key, reply.value);
      this.traceLine(
        `return ${attempt.request.op} ${attempt.request.key} = ${reply.value ?? "(absent)"}`,
      );
    } else {
      this.host.history.completeWrite(attempt.history, reply.ok, now);
      this.noteWritten(attempt.request, reply.ok);
      this.traceLine(
        `return ${attempt.request.op} ${attempt.request.key} ok=${reply.ok} at index ${reply.index}`,
      );
    }
    this.host.scheduler.after(this.thinkUs(), () => this.issue(null));
  }

  private noteWritten(request: ClientRequest, ok: boolean): void {
    if (request.op === "put" || (request.op === "cas" && ok))
      this.knownValues.set(request.key, request.value);
    else if (request.op === "delete") this.knownValues.set(request.key, null);
  }

  /** A write may still take effect: its outcome stays unknown. A read simply never happened. */
  private onTimeout(): void {
    const attempt = this.attempt!;
    this.attempt = null;
    if (attempt.request.op === "get") {
      this.host.history.discard(attempt.history);
      this.stats.timedOutReads++;
    } else {
      this.stats.unknown++;
    }
    this.lastFailedMember = attempt.member;
    if (this.leaderHint === attempt.member) this.leaderHint = NONE;
    this.traceLine(
      `timeout at n${attempt.member}: ${attempt.request.op === "get" ? "read dropped" : "outcome unknown"}`,
    );
    this.host.scheduler.after(this.backoffUs(), () => this.issue(attempt.request));
  }

  private thinkUs(): number {
    return this.random.nextInt(this.workload.thinkTicksMax * this.host.baseTickUs + 1);
  }

  private backoffUs(): number {
    return this.random.nextInt(2 * this.host.baseTickUs + 1);
  }

  private traceLine(what: string): void {
    if (this.host.trace.enabled)
      this.host.trace.line(this.host.scheduler.nowUs, `c${this.id}`, what);
  }
}

function describeRequest(request: ClientRequest): string {
  switch (request.op) {
    case "get":
      return `get ${request.key}${request.lease ? " (lease)" : ""}`;
    case "put":
      return `put ${request.key}=${request.value}`;
    case "delete":
      return `delete ${request.key}`;
    case "cas":
      return `cas ${request.key} ${request.expect ?? "(absent)"}->${request.value}`;
  }
}
