import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MessageType } from "../raft/index.ts";
import {
  closeAll,
  clusterCerts,
  mesh,
  message,
  type Node,
  startNode,
  waitFor,
} from "./test_support.ts";

describe("transport over TLS", () => {
  let nodes: Node[] = [];
  before(async () => {
    const certs = await clusterCerts(["n1", "n2", "n3"]);
    nodes = [
      await startNode(1, "n1", certs),
      await startNode(2, "n2", certs),
      await startNode(3, "n3", certs),
    ];
    mesh(nodes);
  });
  after(() => closeAll(nodes));

  it("delivers messages in order, batched per event-loop turn", async () => {
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    await waitFor("connections", () =>
      [...n1.transport.peerStats().values()].every((s) => s.connected),
    );
    for (let i = 1; i <= 100; i++) n1.transport.send([message(1, 2, i, `e${i}`), message(1, 3, i)]);
    await waitFor("delivery", () => n2.received.length === 100 && n3.received.length === 100);
    assert.deepEqual(
      n2.received.map((m) => m.index),
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    assert.equal(Buffer.from(n2.received[41]!.entries[0]!.data).toString(), "e42");
    // All sent in one turn: one frame per peer.
    assert.deepEqual(n2.batches, [100]);
    assert.deepEqual(n3.batches, [100]);
  });

  it("delivers a 10k-message batch complete", async () => {
    const [n1, n2] = nodes as [Node, Node];
    n2.received.length = 0;
    const batch = Array.from({ length: 10_000 }, (_, i) => message(1, 2, i + 1, "x".repeat(100)));
    n1.transport.send(batch);
    await waitFor("10k messages", () => n2.received.length === 10_000);
    assert.ok(n2.received.every((m, i) => m.index === i + 1));
    const stats = n1.transport.peerStats().get(2)!;
    assert.ok(stats.sentBytes > 1_000_000, `sentBytes ${stats.sentBytes}`);
    assert.equal(stats.droppedMessages, 0);
    assert.ok(n2.transport.peerStats().get(1)!.receivedBytes > 1_000_000);
  });

  it("reports round-trip times", async () => {
    const [n1] = nodes as [Node];
    await waitFor("rtt", () =>
      [...n1.transport.peerStats().values()].every((s) => s.rttMs !== null),
    );
    for (const stats of n1.transport.peerStats().values()) {
      assert.ok(stats.rttMs! >= 0 && stats.rttMs! < 1000, `rtt ${stats.rttMs}`);
    }
  });

  it("refuses InstallSnapshot through send()", () => {
    const m = { ...message(1, 2, 1), type: MessageType.InstallSnapshot };
    assert.throws(() => nodes[0]!.transport.send([m]), /sendSnapshot/);
  });

  it("logs that peers connected", () => {
    assert.ok(nodes[0]!.logger.has(/INFO connected to peer n2/), nodes[0]!.logger.lines.join("\n"));
  });
});
