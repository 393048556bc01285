import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Backoff } from "./backoff.ts";
import { FrameDecodeError } from "./errors.ts";
import {
  decodeHello,
  FrameKind,
  FrameParser,
  helloFrame,
  messagesFrame,
  PROTOCOL_VERSION,
  timeFrame,
} from "./frames.ts";
import { decodeMessages } from "./raft_codec.ts";
import { message } from "./test_support.ts";

function collect(maxFrameBytes?: number) {
  const frames: Array<[number, Buffer]> = [];
  const parser = new FrameParser(
    (kind, payload) => frames.push([kind, Buffer.from(payload)]),
    maxFrameBytes,
  );
  return { frames, parser };
}

describe("frames", () => {
  const hello = { version: PROTOCOL_VERSION, clusterId: "c1", senderId: 7, senderName: "n7" };

  it("parses frames split at every byte and glued together", () => {
    const stream = Buffer.concat([
      helloFrame(hello),
      messagesFrame([message(7, 1, 1, "abc"), message(7, 1, 2)]),
      timeFrame(FrameKind.Ping, 12.5),
    ]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const { frames, parser } = collect();
      parser.push(stream.subarray(0, cut));
      parser.push(stream.subarray(cut));
      assert.deepEqual(
        frames.map(([kind]) => kind),
        [FrameKind.Hello, FrameKind.Messages, FrameKind.Ping],
      );
      assert.deepEqual(decodeHello(frames[0]![1]), hello);
      assert.equal(decodeMessages(frames[1]![1]).length, 2);
      assert.equal(frames[2]![1].readDoubleBE(0), 12.5);
    }
    const { frames, parser } = collect();
    for (const byte of stream) parser.push(Buffer.from([byte]));
    assert.equal(frames.length, 3);
  });

  it("rejects oversized and empty frames", () => {
    const { parser } = collect(1024);
    assert.throws(() => parser.push(Buffer.from([0, 0, 8, 0, 3])), FrameDecodeError);
    assert.throws(() => collect().parser.push(Buffer.from([0, 0, 0, 0])), FrameDecodeError);
  });

  it("rejects a hello without the magic", () => {
    const frame = helloFrame(hello);
    frame[5] = "X".charCodeAt(0);
    assert.throws(() => decodeHello(frame.subarray(5)), /QMSH magic/);
  });
});

describe("backoff", () => {
  it("doubles from 50 ms to 2 s with ±50% jitter", () => {
    const low = new Backoff(() => 0);
    const high = new Backoff(() => 0.999999);
    const lows = Array.from({ length: 8 }, () => low.next());
    const highs = Array.from({ length: 8 }, () => high.next());
    assert.deepEqual(lows, [25, 50, 100, 200, 400, 800, 1000, 1000]);
    assert.deepEqual(highs, [75, 150, 300, 600, 1200, 2400, 3000, 3000]);
    low.reset();
    assert.equal(low.next(), 25);
  });
});
