// The network the members of a fault run talk over, and the faults it can inject between them.
// Two kinds: network namespaces (real packet drops in the kernel) and, where namespaces cannot
// be made, a TCP proxy in front of every member's peer port.

export type NetworkMode = "netns" | "proxy";

/** Where one member listens and what it advertises. */
export interface MemberEndpoints {
  readonly name: string;
  /** The peer URL in --initial-cluster (what the others dial). */
  readonly peerUrl: string;
  /** --listen-peer-urls: differs from peerUrl when a proxy sits in front of it. */
  readonly listenPeerUrl: string;
  /** --listen-client-urls and --advertise-client-urls; clients in this process reach it there. */
  readonly clientUrl: string;
  readonly metricsUrl: string;
}

export interface LinkDegradation {
  /** Added one-way delay on every member-to-member packet (or proxied chunk), ms. */
  readonly delayMs: number;
  /** Share of member-to-member packets (or proxied chunks) dropped, 0–100. */
  readonly lossPercent: number;
}

export interface FaultNetwork {
  readonly mode: NetworkMode;
  /** Whether `degrade` can add delay (netns needs the kernel's netem). */
  readonly supportsDelay: boolean;
  /** Gives a member its addresses; call once per name before starting it. */
  addMember(name: string): Promise<MemberEndpoints>;
  /** The argv that runs `argv` inside the member's network (netns: `ip netns exec …`). */
  command(name: string, argv: readonly string[]): string[];
  /** From now on nothing `from` sends reaches `to` (one way; cut both for a full cut). */
  cut(from: string, to: string): Promise<void>;
  /** Delay and loss on every link between members (clients are not affected). */
  degrade(degradation: LinkDegradation): Promise<void>;
  /** Removes every cut and degradation. */
  heal(): Promise<void>;
  /** Heals, then removes everything the network created (namespaces, bridge, proxies). */
  close(): Promise<void>;
}
