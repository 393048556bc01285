// The simulated network between members: per-message delay (uniform, with a tail that reorders),
// loss, duplication, and partitions as a set of blocked one-way links. A message is dropped if
// its link is blocked when it is sent or when it would arrive.
import type { Message, NodeId, SeededRandom } from "../raft/index.ts";
import { describeMessage } from "./message_text.ts";
import type { NetworkProfile } from "./scenario.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Trace } from "./trace.ts";

export type DropReason = "partitioned" | "lost";

export interface NetworkHost {
  deliver(message: Message): void;
  /** A message was dropped (the transport may tell the sender, as a real one would). */
  onDropped(message: Message, reason: DropReason): void;
  onDelivered(message: Message): void;
}

/** Member ids are small; a directed link is packed into one number. */
const MAX_MEMBER_ID = 1 << 10;

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
}

export class Network {
  profile: NetworkProfile;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };
  private blockedLinks = new Set<number>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly random: SeededRandom,
    private readonly trace: Trace,
    readonly baseProfile: NetworkProfile,
    private readonly host: NetworkHost,
  ) {
    this.profile = baseProfile;
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blockedLinks.has(linkKey(from, to));
  }

  /** Replaces the partition: exactly these one-way links are cut. */
  setBlockedLinks(links: Iterable<readonly [NodeId, NodeId]>): void {
    this.blockedLinks = new Set();
    for (const [from, to] of links) this.blockedLinks.add(linkKey(from, to));
  }

  heal(): void {
    this.blockedLinks = new Set();
  }

  get partitioned(): boolean {
    return this.blockedLinks.size > 0;
  }

  send(message: Message): void {
    this.stats.sent++;
    if (this.isBlocked(message.from, message.to)) {
      this.drop(message, "partitioned");
      return;
    }
    if (this.random.chance(this.profile.lossChance)) {
      this.drop(message, "lost");
      return;
    }
    if (this.trace.enabled)
      this.trace.line(this.scheduler.nowUs, `n${message.from}`, `send ${describeMessage(message)}`);
    this.scheduleDelivery(message);
    if (this.random.chance(this.profile.duplicateChance)) {
      this.stats.duplicated++;
      if (this.trace.enabled)
        this.trace.line(
          this.scheduler.nowUs,
          `n${message.from}`,
          `duplicate ${describeMessage(message)}`,
        );
      this.scheduleDelivery(message);
    }
  }

  private scheduleDelivery(message: Message): void {
    this.scheduler.after(this.sampleDelayUs(), () => {
      if (this.isBlocked(message.from, message.to)) {
        this.drop(message, "partitioned");
        return;
      }
      this.stats.delivered++;
      this.host.deliver(message);
      this.host.onDelivered(message);
    });
  }

  private sampleDelayUs(): number {
    const { minDelayUs, maxDelayUs, tailChance, tailDelayUs } = this.profile;
    let delayUs = minDelayUs + this.random.nextInt(maxDelayUs - minDelayUs + 1);
    if (tailChance > 0 && this.random.chance(tailChance))
      delayUs += this.random.nextInt(tailDelayUs + 1);
    return delayUs;
  }

  private drop(message: Message, reason: DropReason): void {
    this.stats.dropped++;
    if (this.trace.enabled)
      this.trace.line(
        this.scheduler.nowUs,
        `n${message.from}`,
        `drop (${reason}) ${describeMessage(message)}`,
      );
    this.host.onDropped(message, reason);
  }
}

function linkKey(from: NodeId, to: NodeId): number {
  return from * MAX_MEMBER_ID + to;
}
