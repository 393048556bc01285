import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { HistoryHash } from "../kv/index.ts";
import { MvccStore } from "../kv/index.ts";
import {
  answerHashQuery,
  type CorruptionCheckDeps,
  decodeHashAnswer,
  initialCorruptionCheck,
} from "./corruption_check.ts";
import { decodePeerQuery, encodePeerQuery } from "./peer_queries.ts";

class NotConnected extends Error {}

const hashOf = (hash: string, compactRevision = 0): HistoryHash => ({
  revision: 50,
  compactRevision,
  hash,
  records: 49,
});

/** This member (hash "mine") and peers answering as given: a hash, an error, or "down". */
function deps(
  peers: Record<string, HistoryHash | Error | "down" | { connectsAfterMs: number; hash: string }>,
  live: string | null = null,
): CorruptionCheckDeps {
  const names = Object.keys(peers);
  const started = performance.now();
  return {
    kv: {
      revision: 50,
      hashHistory: async () => hashOf("mine"),
      checkLiveKeys: async () => live,
    },
    peers: names.map((name, i) => ({ id: i + 2, name, isVoter: true })),
    voterCount: names.length + 1,
    selfIsVoter: true,
    waitMs: 300,
    hashOfPeer: async (id) => {
      const answer = peers[names[id - 2]!]!;
      if (answer === "down") throw new NotConnected("not connected");
      if (answer instanceof Error) throw answer;
      if ("connectsAfterMs" in answer) {
        if (performance.now() - started < answer.connectsAfterMs) throw new NotConnected("not yet");
        return hashOf(answer.hash);
      }
      return answer;
    },
    isNotConnected: (error) => error instanceof NotConnected,
  };
}

test("a member whose history a quorum of voters holds differently is corrupt, and told what to do", async () => {
  const result = await initialCorruptionCheck(deps({ n2: hashOf("h"), n3: hashOf("h") }));
  assert.match(
    result.corrupt ?? "",
    /history up to revision 50 differs from that of n2, n3 \(a quorum of voters\); .*qmesh member remove/,
  );
});

test("a live key that is not its newest history record is corrupt without asking peers", async () => {
  const result = await initialCorruptionCheck(
    deps({ n2: hashOf("mine") }, 'key "a" (mod revision 7) differs from its history record'),
  );
  assert.match(result.corrupt ?? "", /^initial corruption check: key "a" \(mod revision 7\)/);
});

test("one differing peer without a quorum behind it is named, and this member serves", async () => {
  const result = await initialCorruptionCheck(deps({ n2: hashOf("h"), n3: hashOf("mine") }));
  assert.equal(result.corrupt, null);
  assert.match(result.notes.join("\n"), /of n2 differs from this member's, and no quorum/);
});

test("peers that are down, behind, or compacted elsewhere are skipped, not counted", async () => {
  const result = await initialCorruptionCheck(
    deps({
      n2: "down",
      n3: new Error("peer n3: revision 50 is ahead of this member (40)"),
      n4: hashOf("h", 30),
      n5: hashOf("mine"),
    }),
  );
  assert.equal(result.corrupt, null);
  assert.equal(result.compared, 1);
  const notes = result.notes.join("\n");
  assert.match(notes, /skipped n2: not connected/);
  assert.match(notes, /skipped n3: .*ahead of this member/);
  assert.match(notes, /skipped n4: compacted at 30, this member at 0/);
});

test("a peer whose connection comes up while the member starts is asked again", async () => {
  const result = await initialCorruptionCheck(
    deps({ n2: { connectsAfterMs: 100, hash: "h" }, n3: { connectsAfterMs: 150, hash: "h" } }),
  );
  assert.match(result.corrupt ?? "", /differs from that of n2, n3/);
});

test("the hash query round-trips through a real store, and malformed queries are refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "qmesh-check-"));
  const store = MvccStore.open(join(dir, "kv"));
  try {
    const sent = encodePeerQuery({ query: "hash-history", revision: store.revision });
    assert.deepEqual(decodePeerQuery(sent), { query: "hash-history", revision: store.revision });
    const answer = decodeHashAnswer(await answerHashQuery(store, store.revision));
    assert.equal(answer.hash, (await store.hashHistory(store.revision)).hash);
    assert.throws(() => decodePeerQuery(Buffer.from("{")), /malformed query: not JSON/);
    assert.throws(() => decodePeerQuery(Buffer.from('{"query":"x"}')), /unknown or malformed/);
    const stringRevision = Buffer.from('{"query":"hash-history","revision":"1"}');
    assert.throws(() => decodePeerQuery(stringRevision), /unknown or malformed/);
    await assert.rejects(answerHashQuery(store, 99), /ahead of this member/);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
