import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import { TransportListenError } from "./errors.ts";
import { closeAll, message, type Node, startNode, waitFor } from "./test_support.ts";

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
});
