import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { after, test } from "node:test";
import { MAX_BATCH_BYTES, MAX_QUEUED_BYTES } from "./peer_link.ts";
import { closeAll, message, type Node, startNode, waitFor } from "./test_support.ts";

test("a peer that stops reading: the queue stops at its cap, the newest are dropped and counted", async () => {
  // A "peer" that accepts the connection and never reads from it.
  const sockets: Socket[] = [];
  const stalled = createServer((socket) => {
    socket.pause();
    sockets.push(socket);
  });
  await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", resolve));
  const port = (stalled.address() as import("node:net").AddressInfo).port;
  const nodes: Node[] = [await startNode(1, "n1", null, { scheme: "http" })];
  after(async () => {
    await closeAll(nodes);
    for (const socket of sockets) socket.destroy();
    stalled.close();
  });
  const sender = nodes[0]!.transport;
  sender.setPeers([{ id: 2, name: "n2", url: `http://127.0.0.1:${port}` }]);
  // The stalled peer never answers pings, so the link never reports "connected"; wait until
  // the TCP connection exists.
  await waitFor("the dial", () => sockets.length === 1);

  const payload = "x".repeat(64 * 1024);
  const total = 2_000; // 2,000 × 64 KiB = 125 MiB, about twice the cap
  for (let i = 0; i < total; i += 100) {
    sender.send(Array.from({ length: 100 }, (_, j) => message(1, 2, i + j + 1, payload)));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const stats = sender.peerStats().get(2)!;
  assert.ok(stats.droppedMessages > 0, "nothing was dropped although the peer reads nothing");
  // Memory held for the peer: the capped queue plus at most the frames already handed to the
  // socket before it reported itself full (frames are cut at MAX_BATCH_BYTES).
  const bound = MAX_QUEUED_BYTES + 2 * MAX_BATCH_BYTES;
  assert.ok(stats.queuedBytes <= bound, `${stats.queuedBytes} bytes held, over ${bound}`);
  // Everything is accounted for: written to the socket, still queued, or dropped.
  assert.ok(stats.droppedMessages < total);
});
