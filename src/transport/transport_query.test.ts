import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { QueryError } from "./errors.ts";
import { closeAll, mesh, type Node, sleep, startNode, waitFor } from "./test_support.ts";

describe("peer queries", () => {
  let nodes: Node[] = [];
  before(async () => {
    const answerQuery = async (from: number, request: Uint8Array): Promise<Uint8Array> => {
      const text = Buffer.from(request).toString();
      if (text === "fail") throw new Error("cannot hash revision 9: compacted");
      if (text === "slow") await sleep(2_000);
      return Buffer.from(`${from} asked ${text}`);
    };
    nodes = [
      await startNode(1, "n1", null, { scheme: "http", answerQuery }),
      await startNode(2, "n2", null, { scheme: "http", answerQuery }),
      await startNode(3, "n3", null, { scheme: "http" }),
    ];
    mesh(nodes);
    await waitFor("connections", () =>
      [...nodes[0]!.transport.peerStats().values()].every((s) => s.connected),
    );
  });
  after(() => closeAll(nodes));

  it("a peer answers on the connection that carries our messages, knowing who asked", async () => {
    const [n1, n2] = nodes as [Node, Node];
    const answers = await Promise.all(
      ["a", "b", "c"].map((q) => n1.transport.query(2, Buffer.from(q), 1_000)),
    );
    assert.deepEqual(
      answers.map((a) => Buffer.from(a).toString()),
      ["1 asked a", "1 asked b", "1 asked c"],
    );
    assert.equal(
      Buffer.from(await n2.transport.query(1, Buffer.from("x"), 1_000)).toString(),
      "2 asked x",
    );
  });

  it("the peer's error, a timeout and a peer that answers nothing are QueryErrors", async () => {
    const [n1] = nodes as [Node];
    await assert.rejects(n1.transport.query(2, Buffer.from("fail"), 1_000), {
      name: "QueryError",
      message: "peer n2: cannot hash revision 9: compacted",
    });
    await assert.rejects(n1.transport.query(2, Buffer.from("slow"), 100), {
      name: "QueryError",
      message: "peer n2 did not answer within 100 ms",
    });
    await assert.rejects(n1.transport.query(3, Buffer.from("q"), 1_000), /answers no queries/);
    await assert.rejects(n1.transport.query(99, Buffer.from("q"), 1_000), QueryError);
  });

  it("a lost connection fails the queries in flight at once, not at their timeout", async () => {
    const [n1, n2] = nodes as [Node, Node];
    const pending = n1.transport.query(2, Buffer.from("slow"), 60_000);
    const started = performance.now();
    await sleep(50);
    await n2.transport.close();
    await assert.rejects(pending, QueryError);
    assert.ok(performance.now() - started < 5_000);
    await assert.rejects(
      n1.transport.query(2, Buffer.from("q"), 1_000),
      /not connected to peer n2/,
    );
  });
});
