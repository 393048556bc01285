// Members in network namespaces of their own, joined by veth pairs to one bridge; the test
// process stays in the root namespace with an address on the bridge, so clients reach every
// member while member-to-member packets can be dropped by nftables inside each namespace.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { FaultNetwork, LinkDegradation, MemberEndpoints } from "./network.ts";

const run = promisify(execFile);

const CLIENT_PORT = 2379;
const PEER_PORT = 2380;
const METRICS_PORT = 2381;
/** The nftables table every fault rule of a namespace lives in. */
const TABLE = "qmesh_faults";

interface NetnsMember {
  readonly namespace: string;
  readonly address: string;
  /** The veth end inside the namespace (the one netem would shape). */
  readonly device: string;
  /** The veth end on the bridge. */
  readonly hostEnd: string;
}

async function sh(argv: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(argv[0]!, argv.slice(1));
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`${argv.join(" ")} failed: ${stderr.trim() || (error as Error).message}`, {
      cause: error,
    });
  }
}

/** Can this process create namespaces and nftables rules? (root with iproute2 and nft). */
export async function netnsAvailable(): Promise<{ ok: boolean; why: string }> {
  const probe = `qmprobe${process.pid}`;
  try {
    await sh(["ip", "netns", "add", probe]);
    try {
      await sh(["ip", "netns", "exec", probe, "nft", "add", "table", "inet", TABLE]);
    } finally {
      await sh(["ip", "netns", "del", probe]);
    }
    return { ok: true, why: "" };
  } catch (error) {
    return { ok: false, why: (error as Error).message.split("\n")[0]! };
  }
}

export class NetnsNetwork implements FaultNetwork {
  readonly mode = "netns" as const;
  supportsDelay = false;
  private readonly members = new Map<string, NetnsMember>();
  private readonly prefix: string;
  private readonly subnet: string;
  private readonly bridge: string;
  private created = false;

  /** `slot` keeps concurrent runs (0–249) apart: it picks the names and the subnet. */
  constructor(slot = process.pid % 250) {
    this.prefix = `qmf${slot}`;
    this.subnet = `10.231.${slot}`;
    this.bridge = `${this.prefix}br`;
  }

  /** The root namespace's address on the bridge: where client traffic comes from. */
  get hostAddress(): string {
    return `${this.subnet}.254`;
  }

  private async ensureBridge(): Promise<void> {
    if (this.created) return;
    // A bridge left by a crashed run with the same slot would clash: remove it first.
    await sh(["ip", "link", "del", this.bridge]).catch(() => {});
    await sh(["ip", "link", "add", this.bridge, "type", "bridge"]);
    this.created = true;
    await sh(["ip", "addr", "add", `${this.hostAddress}/24`, "dev", this.bridge]);
    await sh(["ip", "link", "set", this.bridge, "up"]);
    this.supportsDelay = await this.probeNetem();
  }

  /** netem is a kernel module; this machine's kernel may not have it. */
  private async probeNetem(): Promise<boolean> {
    try {
      await sh(["tc", "qdisc", "add", "dev", this.bridge, "root", "netem", "delay", "1ms"]);
      await sh(["tc", "qdisc", "del", "dev", this.bridge, "root"]);
      return true;
    } catch {
      return false;
    }
  }

  async addMember(name: string): Promise<MemberEndpoints> {
    await this.ensureBridge();
    const index = this.members.size + 1;
    const namespace = `${this.prefix}-${name}`;
    const address = `${this.subnet}.${index}`;
    const hostEnd = `${this.prefix}h${index}`;
    const device = `${this.prefix}m${index}`;
    await sh(["ip", "netns", "del", namespace]).catch(() => {});
    await sh(["ip", "netns", "add", namespace]);
    this.members.set(name, { namespace, address, device, hostEnd });
    await sh(["ip", "link", "add", hostEnd, "type", "veth", "peer", "name", device]);
    await sh(["ip", "link", "set", hostEnd, "master", this.bridge]);
    await sh(["ip", "link", "set", hostEnd, "up"]);
    await sh(["ip", "link", "set", device, "netns", namespace]);
    const inside = ["ip", "netns", "exec", namespace];
    await sh([...inside, "ip", "addr", "add", `${address}/24`, "dev", device]);
    await sh([...inside, "ip", "link", "set", device, "up"]);
    await sh([...inside, "ip", "link", "set", "lo", "up"]);
    await this.resetRules(namespace);
    const url = (port: number, scheme = "http") => `${scheme}://${address}:${port}`;
    return {
      name,
      peerUrl: url(PEER_PORT, "https"),
      listenPeerUrl: url(PEER_PORT, "https"),
      clientUrl: url(CLIENT_PORT),
      metricsUrl: url(METRICS_PORT),
    };
  }

  command(name: string, argv: readonly string[]): string[] {
    return ["ip", "netns", "exec", this.member(name).namespace, ...argv];
  }

  private member(name: string): NetnsMember {
    const member = this.members.get(name);
    if (member === undefined) throw new Error(`no member ${name} in the network`);
    return member;
  }

  private nft(namespace: string, script: string): Promise<string> {
    return sh(["ip", "netns", "exec", namespace, "nft", script]);
  }

  private async resetRules(namespace: string): Promise<void> {
    await this.nft(namespace, `add table inet ${TABLE}`);
    await this.nft(namespace, `delete table inet ${TABLE}`);
    await this.nft(
      namespace,
      `add table inet ${TABLE}; add chain inet ${TABLE} input { type filter hook input priority 0; }`,
    );
  }

  async cut(from: string, to: string): Promise<void> {
    // Dropped where it arrives: `to` never sees a packet from `from`, while `from` still hears
    // `to` (a one-way cut, as a broken cable direction or a firewall looks from both ends).
    const source = this.member(from).address;
    await this.nft(
      this.member(to).namespace,
      `add rule inet ${TABLE} input ip saddr ${source} drop`,
    );
  }

  async degrade({ delayMs, lossPercent }: LinkDegradation): Promise<void> {
    if (delayMs > 0 && !this.supportsDelay) {
      throw new Error("this kernel has no netem: delay needs the proxy network (--network proxy)");
    }
    for (const member of this.members.values()) {
      if (lossPercent > 0) {
        // Only member-to-member packets: client traffic from the bridge address is spared.
        await this.nft(
          member.namespace,
          `add rule inet ${TABLE} input ip saddr ${this.subnet}.0/24 ip saddr != ${this.hostAddress} numgen random mod 100 < ${Math.round(lossPercent)} drop`,
        );
      }
      if (delayMs > 0) {
        await sh(
          ["ip", "netns", "exec", member.namespace, "tc", "qdisc", "replace", "dev"].concat(
            member.device,
            "root",
            "netem",
            "delay",
            `${delayMs}ms`,
          ),
        );
      }
    }
  }

  async heal(): Promise<void> {
    for (const member of this.members.values()) {
      await this.resetRules(member.namespace);
      if (this.supportsDelay) {
        await sh([
          "ip",
          "netns",
          "exec",
          member.namespace,
          "tc",
          "qdisc",
          "del",
          "dev",
          member.device,
          "root",
        ]).catch(() => {});
      }
    }
  }

  async close(): Promise<void> {
    for (const member of this.members.values()) {
      // Deleting a pair's host end deletes both ends; the namespace goes once its processes do.
      await sh(["ip", "link", "del", member.hostEnd]).catch(() => {});
      await sh(["ip", "netns", "del", member.namespace]).catch(() => {});
    }
    this.members.clear();
    if (this.created) await sh(["ip", "link", "del", this.bridge]).catch(() => {});
    this.created = false;
  }
}
