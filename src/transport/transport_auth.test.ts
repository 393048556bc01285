import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  closeAll,
  clusterCerts,
  message,
  type Node,
  sleep,
  startNode,
  waitFor,
} from "./test_support.ts";

type Certs = Awaited<ReturnType<typeof clusterCerts>>;

describe("transport admission", () => {
  let certs: Certs;
  let otherCa: Certs;
  const nodes: Node[] = [];
  before(async () => {
    certs = await clusterCerts(["n1", "n2", "n3", "n4"]);
    otherCa = await clusterCerts(["n2"]);
  });
  after(() => closeAll(nodes));

  async function pair(second: Node): Promise<[Node, Node]> {
    const first = await startNode(1, "n1", certs);
    nodes.push(first, second);
    first.transport.setPeers([second.address]);
    second.transport.setPeers([first.address]);
    return [first, second];
  }

  it("refuses a peer whose certificate comes from another CA", async () => {
    const [n1, n2] = await pair(await startNode(2, "n2", otherCa));
    await sleep(300);
    n2.transport.send([message(2, 1, 1)]);
    n1.transport.send([message(1, 2, 1)]);
    await waitFor("handshake warning", () => n1.logger.has(/refused TLS handshake/));
    await sleep(300);
    assert.equal(n1.received.length, 0);
    assert.equal(n2.received.length, 0);
    assert.equal(n1.transport.peerStats().get(2)!.connected, false);
  });

  it("refuses a peer whose certificate CN is not a member", async () => {
    // n1 knows member 2 as "n2", but the dialler presents n4's certificate.
    const impostor = await startNode(2, "n2", certs, { tls: certs.material("n4") });
    const [n1] = await pair(impostor);
    impostor.transport.send([message(2, 1, 1)]);
    await waitFor("CN warning", () => n1.logger.has(/certificate CN "n4" is not a current member/));
    await sleep(200);
    assert.equal(n1.received.length, 0);
  });

  it("refuses a server whose certificate is for another member", async () => {
    const n1 = await startNode(1, "n1", certs);
    const n3 = await startNode(3, "n3", certs);
    nodes.push(n1, n3);
    // n1 believes n3's url belongs to n2.
    n1.transport.setPeers([{ id: 2, name: "n2", url: n3.address.url }]);
    n1.transport.send([message(1, 2, 1)]);
    await waitFor("identity warning", () =>
      n1.logger.has(/certificate is for "n3", expected "n2"/),
    );
    assert.equal(n3.received.length, 0);
  });

  it("refuses a different cluster id with a warning", async () => {
    const [n1, n2] = await pair(await startNode(2, "n2", certs, { clusterId: "other" }));
    n2.transport.send([message(2, 1, 1)]);
    await waitFor("cluster warning", () =>
      n1.logger.has(
        /refused peer connection from n2 .*cluster id "other" differs from ours "test-cluster"/,
      ),
    );
    await waitFor("client told why", () =>
      n2.logger.has(/peer n1 refused our connection: cluster id/),
    );
    await sleep(200);
    assert.equal(n1.received.length, 0);
  });
});
