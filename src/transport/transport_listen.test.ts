import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import { TransportListenError } from "./errors.ts";
import { closeAll, MemoryLogger, message, type Node, startNode, waitFor } from "./test_support.ts";
import { Transport } from "./transport.ts";
import type { TransportOptions } from "./types.ts";

describe("transport listener", () => {
  const nodes: Node[] = [];
  after(() => closeAll(nodes));

  it("explains a port that is already in use", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      await assert.rejects(startNode(1, "n1", null, { scheme: "http", port }), (error: unknown) => {
        assert.ok(error instanceof TransportListenError);
        assert.equal(
          error.message,
          `peer port 127.0.0.1:${port} is already in use (another qmesh or etcd?): stop it or choose another --listen-peer-urls`,
        );
        return true;
      });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it("works over plain TCP with http:// urls and warns about it", async () => {
    const n1 = await startNode(1, "n1", null, { scheme: "http" });
    const n2 = await startNode(2, "n2", null, { scheme: "http" });
    nodes.push(n1, n2);
    assert.ok(n1.logger.has(/WARN peer traffic is not encrypted/));
    n1.transport.setPeers([n2.address]);
    n2.transport.setPeers([n1.address]);
    n1.transport.send([message(1, 2, 1, "plain")]);
    await waitFor("plain delivery", () => n2.received.length === 1);
    assert.equal(Buffer.from(n2.received[0]!.entries[0]!.data).toString(), "plain");
  });

  it("refuses https without TLS material and mixed schemes", async () => {
    await assert.rejects(startNode(1, "n1", null, { scheme: "https" }), /no TLS material/);
    const n1 = await startNode(1, "n1", null, { scheme: "http" });
    nodes.push(n1);
    assert.throws(
      () => n1.transport.setPeers([{ id: 2, name: "n2", url: "https://127.0.0.1:2380" }]),
      /differ in scheme/,
    );
  });

  it("binds listenUrl while peers know it by self.url (an advertised URL)", async () => {
    const received: string[] = [];
    const options = (listenUrl: string): TransportOptions => ({
      // Nothing listens on port 1: peers that dialled self.url would never get through.
      self: { id: 1, name: "n1", url: "http://127.0.0.1:1" },
      listenUrl,
      clusterId: "test-cluster",
      tls: null,
      logger: new MemoryLogger(),
      onMessages: (messages) =>
        received.push(...messages.map((m) => Buffer.from(m.entries[0]!.data).toString())),
      onSnapshot: () => {},
      receiveSnapshot: () => {
        throw new Error("no snapshots here");
      },
      onPeerUnreachable: () => {},
    });
    assert.throws(() => new Transport(options("https://127.0.0.1:0")), /differ in scheme/);
    const n1 = new Transport(options("http://127.0.0.1:0"));
    await n1.listen();
    const n2 = await startNode(2, "n2", null, { scheme: "http" });
    try {
      assert.notEqual(n1.port, 1);
      n1.setPeers([n2.address]);
      n2.transport.setPeers([{ id: 1, name: "n1", url: `http://127.0.0.1:${n1.port}` }]);
      n2.transport.send([message(2, 1, 1, "via listen url")]);
      await waitFor("delivery on the listen url", () => received.length === 1);
      assert.deepEqual(received, ["via listen url"]);
    } finally {
      await Promise.all([n1.close(), n2.transport.close()]);
    }
  });
});
