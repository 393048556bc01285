import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { closeAll, clusterCerts, message, type Node, startNode, waitFor } from "./test_support.ts";

describe("transport reconnects", () => {
  const nodes: Node[] = [];
  after(() => closeAll(nodes));

  it("reports an unreachable peer and resumes once it is back on the same port", async () => {
    const certs = await clusterCerts(["n1", "n2"]);
    const n1 = await startNode(1, "n1", certs);
    let n2 = await startNode(2, "n2", certs);
    nodes.push(n1, n2);
    n1.transport.setPeers([n2.address]);
    n2.transport.setPeers([n1.address]);
    n1.transport.send([message(1, 2, 1)]);
    await waitFor("first delivery", () => n2.received.length === 1);

    const port = n2.transport.port;
    await n2.transport.close();
    await waitFor("link down", () => !n1.transport.peerStats().get(2)!.connected);
    // Sends while down are dropped and reported, once per failed attempt rather than per message.
    await waitFor("unreachable reported", () => {
      n1.transport.send([message(1, 2, 2), message(1, 2, 3)]);
      return n1.unreachable.length > 0;
    });
    assert.ok(n1.unreachable.every((id) => id === 2));
    const before = n1.transport.peerStats().get(2)!;
    assert.ok(before.droppedMessages >= 2);
    assert.ok(n1.unreachable.length <= before.droppedMessages / 2);

    n2 = await startNode(2, "n2", certs, { port });
    nodes.push(n2);
    n2.transport.setPeers([n1.address]);
    await waitFor("reconnected", () => n1.transport.peerStats().get(2)!.connected, 8000);
    n1.transport.send([message(1, 2, 10)]);
    await waitFor("delivery resumes", () => n2.received.some((m) => m.index === 10));
    n2.transport.send([message(2, 1, 11)]);
    await waitFor("reverse direction", () => n1.received.some((m) => m.index === 11));
  });

  it("does not redial after close", async () => {
    const certs = await clusterCerts(["n1", "n2"]);
    const n1 = await startNode(1, "n1", certs);
    n1.transport.setPeers([{ id: 2, name: "n2", url: "https://127.0.0.1:1" }]);
    await n1.transport.close();
    n1.transport.send([message(1, 2, 1)]);
    assert.equal(n1.transport.peerStats().size, 0);
  });
});
