import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import {
  closeAll,
  clusterCerts,
  message,
  type Node,
  sleep,
  startNode,
  waitFor,
} from "./test_support.ts";
import type { FaultHook } from "./types.ts";

function hook(partial: Partial<FaultHook>): FaultHook {
  return { delayMs: 0, lossRate: 0, blockedTo: new Set(), blockedFrom: new Set(), ...partial };
}

describe("fault hook", () => {
  let nodes: [Node, Node, Node];
  before(async () => {
    const certs = await clusterCerts(["n1", "n2", "n3"]);
    nodes = [
      await startNode(1, "n1", certs),
      await startNode(2, "n2", certs),
      await startNode(3, "n3", certs),
    ];
    for (const node of nodes) {
      node.transport.setPeers(nodes.filter((n) => n !== node).map((n) => n.address));
    }
    await waitFor("mesh", () =>
      nodes.every((n) => [...n.transport.peerStats().values()].every((s) => s.connected)),
    );
  });
  beforeEach(() => {
    for (const node of nodes) {
      node.transport.fault = null;
      node.received.length = 0;
    }
  });
  after(() => closeAll(nodes));

  it("blockedTo drops what we send to a peer, one way", async () => {
    const [n1, n2, n3] = nodes;
    n1.transport.fault = hook({ blockedTo: new Set([2]) });
    n1.transport.send([message(1, 2, 1), message(1, 3, 1)]);
    n2.transport.send([message(2, 1, 1)]);
    await waitFor(
      "unblocked deliveries",
      () => n3.received.length === 1 && n1.received.length === 1,
    );
    await sleep(100);
    assert.equal(n2.received.length, 0);
    assert.equal(n1.transport.peerStats().get(2)!.droppedMessages, 1);
  });

  it("blockedFrom drops what we receive from a peer", async () => {
    const [n1, n2, n3] = nodes;
    n2.transport.fault = hook({ blockedFrom: new Set([1]) });
    n1.transport.send([message(1, 2, 1)]);
    n3.transport.send([message(3, 2, 1)]);
    await waitFor("from n3", () => n2.received.length === 1);
    await sleep(100);
    assert.deepEqual(
      n2.received.map((m) => m.from),
      [3],
    );
  });

  it("lossRate 1 drops everything", async () => {
    const [n1, n2] = nodes;
    n1.transport.fault = hook({ lossRate: 1 });
    n1.transport.send(Array.from({ length: 50 }, (_, i) => message(1, 2, i + 1)));
    await sleep(150);
    assert.equal(n2.received.length, 0);
  });

  it("lossRate drops roughly that share and keeps order", async () => {
    const [n1, n2] = nodes;
    n1.transport.fault = hook({ lossRate: 0.5 });
    n1.transport.send(Array.from({ length: 400 }, (_, i) => message(1, 2, i + 1)));
    await sleep(200);
    assert.ok(n2.received.length > 100 && n2.received.length < 300, `${n2.received.length}`);
    const indexes = n2.received.map((m) => m.index);
    assert.deepEqual(
      indexes,
      [...indexes].sort((a, b) => a - b),
    );
  });

  it("delay delays and keeps order", async () => {
    const [n1, n2] = nodes;
    n1.transport.fault = hook({ delayMs: 200 });
    const start = performance.now();
    n1.transport.send([message(1, 2, 1)]);
    n1.transport.send([message(1, 2, 2)]);
    await sleep(100);
    assert.equal(n2.received.length, 0);
    await waitFor("delayed delivery", () => n2.received.length === 2, 3000);
    assert.ok(performance.now() - start >= 195);
    assert.deepEqual(
      n2.received.map((m) => m.index),
      [1, 2],
    );
  });
});
