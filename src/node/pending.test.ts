import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PendingProposals, ReadBatcher, RequestTimeoutError } from "./pending.ts";
import { decodeProposal, encodeProposal, ProposalDecodeError, ProposalKind } from "./proposal.ts";

describe("linearizable read batching", () => {
  it("serves every read that joined a round once apply reaches its index, with one request per round", async () => {
    const requested: Uint8Array[] = [];
    const batcher = new ReadBatcher(5_000, 7, (id) => requested.push(id));
    const served: number[] = [];
    const reads = [1, 2, 3].map((n) => batcher.wait().then(() => served.push(n)));
    batcher.flush();
    batcher.flush(); // a round is in flight: no second request
    assert.equal(requested.length, 1);
    const late = batcher.wait().then(() => served.push(4));
    batcher.accept(requested[0]!, 10);
    batcher.served(9);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(served, [], "served before apply reached the read index");
    batcher.served(10);
    await Promise.all(reads);
    assert.deepEqual(served, [1, 2, 3]);
    // The read that arrived during the round went out in a round of its own.
    assert.equal(requested.length, 2);
    batcher.accept(requested[1]!, 12);
    batcher.served(12);
    await late;
    assert.deepEqual(served, [1, 2, 3, 4]);
  });

  it("makes request ids unique across members and across restarts of one member", () => {
    const ids: string[] = [];
    for (const member of [1, 1, 2]) {
      const batcher = new ReadBatcher(5_000, member, (id) =>
        ids.push(Buffer.from(id).toString("hex")),
      );
      batcher.wait().catch(() => {});
      batcher.flush();
      batcher.rejectAll(new Error("done"));
    }
    assert.equal(new Set(ids).size, 3);
  });

  it("asks again after a leader change, and times out reads nobody answers", async () => {
    const requested: Uint8Array[] = [];
    const batcher = new ReadBatcher(50, 1, (id) => requested.push(id));
    const read = batcher.wait();
    batcher.flush();
    batcher.retryInFlight();
    assert.equal(requested.length, 2);
    await assert.rejects(read, RequestTimeoutError);
    // A timed-out read is not carried into later rounds.
    batcher.retryInFlight();
    assert.equal(requested.length, 2);
  });
});

describe("pending proposals", () => {
  it("resolves by sequence number and times out the rest", async () => {
    const pending = new PendingProposals<string>(50);
    const first = pending.register("put");
    const second = pending.register("put");
    assert.notEqual(first.sequence, second.sequence);
    pending.resolve(first.sequence, "applied");
    assert.equal(await first.result, "applied");
    await assert.rejects(second.result, /put timed out after 50 ms/);
    assert.equal(pending.size, 0);
  });

  it("starts each process at a different sequence number", () => {
    const a = new PendingProposals<void>(1_000).register("x");
    const b = new PendingProposals<void>(1_000).register("x");
    assert.notEqual(a.sequence, b.sequence);
    for (const p of [a, b]) p.result.catch(() => {});
  });
});

describe("proposal envelope", () => {
  it("round-trips and refuses what is not a proposal", () => {
    const payload = Uint8Array.of(1, 2, 3);
    const decoded = decodeProposal(encodeProposal(ProposalKind.Kv, 123456789012, 2 ** 50, payload));
    assert.equal(decoded.kind, ProposalKind.Kv);
    assert.equal(decoded.proposer, 123456789012);
    assert.equal(decoded.sequence, 2 ** 50);
    assert.deepEqual([...decoded.payload], [1, 2, 3]);
    assert.throws(() => decodeProposal(Uint8Array.of(1, 2)), ProposalDecodeError);
    const wrongKind = encodeProposal(ProposalKind.Kv, 1, 1, payload);
    wrongKind[1] = 9;
    assert.throws(() => decodeProposal(wrongKind), /unknown proposal kind 9/);
  });
});
