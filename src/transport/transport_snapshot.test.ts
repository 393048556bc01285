import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { crc32 } from "node:zlib";
import type { Message } from "../raft/index.ts";
import { EMPTY_CONF_STATE, MessageType } from "../raft/index.ts";
import { SnapshotSendError } from "./errors.ts";
import {
  closeAll,
  clusterCerts,
  message,
  type Node,
  startNode,
  tempDir,
  waitFor,
} from "./test_support.ts";

function installSnapshot(index: number): Message {
  return {
    ...message(1, 2, 0),
    type: MessageType.InstallSnapshot,
    snapshot: {
      metadata: { index, term: 3, confState: { ...EMPTY_CONF_STATE, voters: [1, 2] } },
      data: new Uint8Array(),
    },
  };
}

describe("snapshot transfer", () => {
  let n1: Node;
  let n2: Node;
  const file = join(tempDir("snapsrc"), "state");
  const content = randomBytes(5 * 1024 * 1024 + 123);
  before(async () => {
    writeFileSync(file, content);
    const certs = await clusterCerts(["n1", "n2"]);
    n1 = await startNode(1, "n1", certs);
    n2 = await startNode(2, "n2", certs);
    n1.transport.setPeers([n2.address]);
    n2.transport.setPeers([n1.address]);
    await waitFor("connected", () => n1.transport.peerStats().get(2)!.connected);
  });
  after(() => closeAll([n1, n2]));

  it("streams a 5 MiB file in chunks while heartbeats keep flowing", async () => {
    const sending = n1.transport.sendSnapshot(installSnapshot(40), file, crc32(content));
    n1.transport.send([message(1, 2, 1)]);
    await sending;
    assert.equal(n2.snapshots.length, 1);
    const { message: m, file: received } = n2.snapshots[0]!;
    assert.equal(m.type, MessageType.InstallSnapshot);
    assert.equal(m.snapshot?.metadata.index, 40);
    assert.deepEqual(m.snapshot?.metadata.confState.voters, [1, 2]);
    assert.equal(crc32(readFileSync(received)), crc32(content));
    await waitFor("heartbeat", () => n2.received.length === 1);
  });

  it("rejects when the receiver finds a wrong checksum", async () => {
    await assert.rejects(
      n1.transport.sendSnapshot(installSnapshot(41), file, (crc32(content) + 1) >>> 0),
      (error: unknown) =>
        error instanceof SnapshotSendError && /checksum mismatch/.test(error.message),
    );
    assert.equal(n2.snapshots.length, 1);
    assert.ok(n2.logger.has(/snapshot from peer n1 rejected: checksum mismatch/));
    // The connection survives a refused snapshot.
    n1.transport.send([message(1, 2, 2)]);
    await waitFor("later message", () => n2.received.some((m) => m.index === 2));
  });

  it("rejects a missing file and an unknown peer", async () => {
    await assert.rejects(
      n1.transport.sendSnapshot(installSnapshot(42), `${file}.nope`, 0),
      SnapshotSendError,
    );
    await assert.rejects(
      n1.transport.sendSnapshot({ ...installSnapshot(42), to: 9 }, file, 0),
      /not a peer/,
    );
  });
});
