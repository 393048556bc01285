// Lease renewals and remaining-TTL reads are the leader's alone (only it keeps expiry clocks): a
// follower passes them on over one gRPC client per leader, opened on first use.
import type * as grpc from "@grpc/grpc-js";
import type { QmeshNode } from "../../node/node.ts";
import { type ConnectOptions, connectEtcd, type EtcdClient } from "./client.ts";
import { EtcdErrors, RpcError } from "./etcd_errors.ts";

const FORWARD_TIMEOUT_MS = 5_000;

interface Pending {
  resolve(ttl: number): void;
  reject(error: Error): void;
}

/** One keep-alive stream to the leader; its replies come back in request order. */
interface KeepAliveLink {
  readonly stream: grpc.ClientDuplexStream<object, { TTL: string }>;
  readonly pending: Pending[];
  broken: boolean;
}

export class LeaderLink {
  private clientUrl = "";
  private client: EtcdClient | undefined;
  private keepAlive: KeepAliveLink | undefined;

  constructor(
    private readonly node: QmeshNode,
    private readonly tls: ConnectOptions["tls"],
  ) {}

  /** Renews `id` on the leader; resolves with its TTL (0: the leader knows no such lease). */
  renew(id: number): Promise<number> {
    const link = this.keepAliveLink();
    return new Promise((resolve, reject) => {
      link.pending.push({ resolve, reject });
      link.stream.write({ ID: String(id) });
    });
  }

  /** LeaseTimeToLive answered by the leader. */
  async timeToLive(id: number, keys: boolean): Promise<Record<string, unknown>> {
    try {
      return await this.leaderClient().call("Lease", "LeaseTimeToLive", { ID: String(id), keys });
    } catch (error) {
      throw fromLeader(error as Error);
    }
  }

  close(): void {
    this.dropKeepAlive(EtcdErrors.stopped);
    this.client?.close();
    this.client = undefined;
  }

  private leaderClient(): EtcdClient {
    const leader = this.node.leaderMember();
    if (leader === undefined || leader.clientUrl === "" || leader.id === this.node.id) {
      throw EtcdErrors.noLeader;
    }
    if (this.client === undefined || this.clientUrl !== leader.clientUrl) {
      this.dropKeepAlive(EtcdErrors.leaderChanged);
      this.client?.close();
      const options: ConnectOptions = { timeoutMs: FORWARD_TIMEOUT_MS };
      if (this.tls !== undefined) options.tls = this.tls;
      this.client = connectEtcd(leader.clientUrl, options);
      this.clientUrl = leader.clientUrl;
    }
    return this.client;
  }

  private keepAliveLink(): KeepAliveLink {
    const client = this.leaderClient();
    if (this.keepAlive !== undefined && !this.keepAlive.broken) return this.keepAlive;
    const link: KeepAliveLink = {
      stream: client.raw("Lease").LeaseKeepAlive(),
      pending: [],
      broken: false,
    };
    link.stream.on("data", (response: { TTL: string }) => {
      link.pending.shift()?.resolve(Number(response.TTL));
    });
    const fail = (error: Error) => {
      link.broken = true;
      for (const waiter of link.pending.splice(0)) waiter.reject(error);
    };
    link.stream.on("error", (error: Error) => fail(fromLeader(error)));
    link.stream.on("end", () => fail(EtcdErrors.leaderChanged));
    this.keepAlive = link;
    return link;
  }

  private dropKeepAlive(error: Error): void {
    const link = this.keepAlive;
    if (link === undefined) return;
    this.keepAlive = undefined;
    link.broken = true;
    for (const waiter of link.pending.splice(0)) waiter.reject(error);
    link.stream.cancel();
  }
}

/** The leader's etcd error as it is; a lost connection as etcd's "leader changed". */
function fromLeader(error: Error): RpcError {
  const { code, details } = error as Error & { code?: number; details?: string };
  if (typeof code === "number" && details?.startsWith("etcdserver:")) {
    return new RpcError(code, details);
  }
  return EtcdErrors.leaderChanged;
}
