// The proxy network with stand-in members (plain TCP servers that read a qmesh hello, record
// what follows and echo it), then with three real qmesh members behind it.
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import { decodeHello, HEADER_BYTES, helloFrame } from "../../src/transport/frames.ts";
import { PROTOCOL_VERSION } from "../../src/transport/index.ts";
import { eventually, sleep, TestCluster } from "../process/harness.ts";
import type { MemberEndpoints } from "./network.ts";
import { ProxyNetwork } from "./proxy_network.ts";

/** Listens where a member would, records what each dialler sends after its hello, echoes it. */
class StandInMember {
  readonly received = new Map<string, string>();
  readonly arrivals: { from: string; at: number }[] = [];
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(readonly endpoints: MemberEndpoints) {
    this.server = net.createServer((socket) => this.serve(socket));
  }

  listen(): Promise<void> {
    const port = Number(new URL(this.endpoints.listenPeerUrl).port);
    return new Promise((resolve) => this.server.listen(port, "127.0.0.1", resolve));
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("error", () => {});
    let buffered = Buffer.alloc(0);
    let sender: string | null = null;
    socket.on("data", (chunk: Buffer) => {
      if (sender === null) {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.length < HEADER_BYTES) return;
        const end = 4 + buffered.readUInt32BE(0);
        if (buffered.length < end) return;
        sender = decodeHello(buffered.subarray(HEADER_BYTES, end)).senderName;
        chunk = buffered.subarray(end);
        if (chunk.length === 0) return;
      }
      this.received.set(sender, (this.received.get(sender) ?? "") + chunk.toString());
      this.arrivals.push({ from: sender, at: performance.now() });
      socket.write(chunk);
    });
  }
}

/** A connection from member `name` to `to`'s advertised peer URL, introduced by a hello. */
interface Dialled {
  readonly socket: net.Socket;
  readonly echoed: () => string;
  readonly closed: () => boolean;
}

function dial(name: string, to: MemberEndpoints): Dialled {
  const socket = net.connect(Number(new URL(to.peerUrl).port), "127.0.0.1");
  let echoed = "";
  let closed = false;
  socket.on("data", (chunk: Buffer) => (echoed += chunk.toString()));
  socket.on("error", () => {});
  socket.on("close", () => (closed = true));
  socket.write(
    helloFrame({ version: PROTOCOL_VERSION, clusterId: "c", senderId: 1, senderName: name }),
  );
  return { socket, echoed: () => echoed, closed: () => closed };
}

async function standIns(network: ProxyNetwork, names: readonly string[]) {
  const members = new Map<string, StandInMember>();
  for (const name of names) {
    const member = new StandInMember(await network.addMember(name));
    await member.listen();
    members.set(name, member);
  }
  return members;
}

describe("proxy network with stand-in members", { timeout: 20_000 }, () => {
  const network = new ProxyNetwork();
  let members = new Map<string, StandInMember>();
  const member = (name: string) => members.get(name)!;
  after(async () => {
    await network.close();
    await Promise.all([...members.values()].map((m) => m.close()));
  });

  it("gives each member its own ports and forwards both ways", async () => {
    members = await standIns(network, ["a", "b", "c"]);
    const { endpoints } = member("a");
    const ports = ["peerUrl", "listenPeerUrl", "clientUrl", "metricsUrl"] as const;
    const all = [...members.values()].flatMap((m) => ports.map((p) => m.endpoints[p]));
    assert.equal(new Set(all).size, all.length);
    assert.match(endpoints.peerUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(endpoints.peerUrl, endpoints.listenPeerUrl);
    assert.deepEqual(network.command("a", ["node", "x"]), ["node", "x"]);

    const link = dial("a", member("b").endpoints);
    link.socket.write("hello b");
    await eventually(async () => assert.equal(member("b").received.get("a"), "hello b"), 2000);
    await eventually(async () => assert.equal(link.echoed(), "hello b"), 2000);
    link.socket.destroy();
  });

  it("cut(from, to) stops from's bytes to `to` only; heal restores them", async () => {
    const before = dial("a", member("b").endpoints);
    before.socket.write("1");
    await eventually(async () => assert.equal(member("b").received.get("a"), "hello b1"), 2000);
    await network.cut("a", "b");
    await eventually(async () => assert.ok(before.closed()), 2000);

    const refused = dial("a", member("b").endpoints);
    refused.socket.write("2");
    const third = dial("c", member("b").endpoints);
    third.socket.write("from c");
    await eventually(async () => assert.equal(member("b").received.get("c"), "from c"), 2000);
    await eventually(async () => assert.ok(refused.closed()), 2000);
    assert.equal(member("b").received.get("a"), "hello b1");

    await network.heal();
    const healed = dial("a", member("b").endpoints);
    healed.socket.write("3");
    await eventually(async () => assert.equal(member("b").received.get("a"), "hello b13"), 2000);
    for (const link of [healed, third]) link.socket.destroy();
  });

  it("cut against the dialler's direction lets its bytes through but silences the replies", async () => {
    await network.cut("b", "a");
    const link = dial("a", member("b").endpoints);
    link.socket.write("x");
    await eventually(async () => assert.equal(member("b").received.get("a"), "hello b13x"), 2000);
    await sleep(100);
    assert.equal(link.echoed(), "");
    assert.equal(link.closed(), false);
    // Healing closes it: the bytes it dropped left that direction broken mid-frame.
    await network.heal();
    await eventually(async () => assert.ok(link.closed()), 2000);
  });

  it("delays every chunk by at least the delay, in order", async () => {
    await network.degrade({ delayMs: 150, lossPercent: 0 });
    const link = dial("c", member("a").endpoints);
    await sleep(200);
    const sent = performance.now();
    for (const part of ["1", "2", "3"]) link.socket.write(part);
    await eventually(async () => assert.equal(member("a").received.get("c"), "123"), 2000);
    const arrived = member("a")
      .arrivals.filter((a) => a.from === "c")
      .at(-1)!.at;
    assert.ok(arrived - sent >= 150, `arrived after ${arrived - sent} ms`);
    await eventually(async () => assert.equal(link.echoed(), "123"), 2000);
    await network.heal();
    link.socket.destroy();
  });

  it("models total loss as connections that close", async () => {
    await network.degrade({ delayMs: 0, lossPercent: 100 });
    const link = dial("c", member("b").endpoints);
    await eventually(async () => assert.ok(link.closed()), 2000);
    await network.heal();
  });

  it("close leaves no proxy listening", async () => {
    const proxyPort = Number(new URL(member("a").endpoints.peerUrl).port);
    await network.close();
    await assert.rejects(
      new Promise<void>((resolve, reject) => {
        const socket = net.connect(proxyPort, "127.0.0.1", () => {
          socket.destroy();
          resolve();
        });
        socket.on("error", reject);
      }),
      /ECONNREFUSED/,
    );
  });
});

describe("proxy network with real members", { timeout: 90_000 }, () => {
  const network = new ProxyNetwork();
  const cluster = new TestCluster();
  after(async () => {
    await cluster.destroy();
    await network.close();
  });

  it("replicates through the proxies and replaces a leader cut off both ways", async () => {
    const names = ["n1", "n2", "n3"];
    const listenPeerUrls = new Map<string, string>();
    for (const name of names) {
      const endpoints = await network.addMember(name);
      listenPeerUrls.set(name, endpoints.listenPeerUrl);
      // The harness gives peerUrl to --initial-cluster and, by default, --listen-peer-urls.
      cluster.specs.set(name, {
        name,
        peerUrl: endpoints.peerUrl,
        clientUrl: endpoints.clientUrl,
        metricsUrl: endpoints.metricsUrl,
        dataDir: `${cluster.dir}/${name}`,
      });
    }
    await Promise.all(
      names.map((name) =>
        cluster.start(name, names, "new", [
          // The last --listen-peer-urls wins: members bind behind their proxies.
          "--listen-peer-urls",
          listenPeerUrls.get(name)!,
          "--initial-advertise-peer-urls",
          cluster.spec(name).peerUrl,
        ]),
      ),
    );
    const leader = await cluster.waitForLeader(names);
    const others = names.filter((name) => name !== leader);
    await cluster.put(leader, "through", "proxy");
    await eventually(async () => assert.equal(await cluster.get(others[0]!, "through"), "proxy"));

    for (const other of others) {
      await network.cut(leader, other);
      await network.cut(other, leader);
    }
    const successor = await cluster.waitForLeader(others);
    assert.notEqual(successor, leader);
    await cluster.put(successor, "after", "cut");
    assert.equal(await cluster.get(others.find((n) => n !== successor)!, "after"), "cut");
  });
});
