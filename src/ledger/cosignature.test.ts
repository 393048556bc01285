// The cosignature types: tlog-cosignature's example (its timestamp and signed message), a
// witness's published 0x04 key, and qmesh's ML-DSA-65 type and vkeys.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  cosignatureKeyId,
  cosignedMessage,
  decodeTimestampedSignature,
  ED25519_COSIGNATURE_TYPE,
  encodeTimestampedSignature,
  formatCosignerKey,
  MLDSA65_COSIGNATURE_IDENTIFIER,
  MLDSA65_COSIGNATURE_TYPE,
  MLDSA65_PUBLIC_KEY_BYTES,
  parseCosignerKey,
} from "./cosignature.ts";
import { decodeBase64, encodeUtf8 } from "./encoding.ts";
import { computeKeyId, formatVerifierKey, NoteFormatError, parseNote } from "./note.ts";

// c2sp.org/tlog-cosignature, the example at the top and "Ed25519 signed message".
const SPEC_NOTE = `example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==
`;
const SPEC_SIGNED_MESSAGE = `cosignature/v1
time 1679315147
example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
`;
// A witness's key (0x04) as published in the tests of transparency-dev/formats.
const REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";

describe("tlog-cosignature v1 (Ed25519, type 0x04)", () => {
  it("reads the spec example's timestamp and builds the spec's signed message", () => {
    const note = parseNote(SPEC_NOTE);
    const witness = note.signatures[1]!;
    assert.equal(witness.name, "witness.example.com/w1");
    const decoded = decodeTimestampedSignature("ed25519", witness.signature);
    assert.ok(typeof decoded !== "string");
    assert.equal(decoded.timestamp, 1679315147);
    assert.equal(decoded.signature.length, 64);
    const message = cosignedMessage("ed25519", witness.name, decoded.timestamp, note.text);
    assert.deepEqual(message, encodeUtf8(SPEC_SIGNED_MESSAGE));
  });

  it("reads the timestamp of transparency-dev/formats' cosignature vector", () => {
    const bytes = decodeBase64(
      "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==",
    )!;
    const decoded = decodeTimestampedSignature("ed25519", bytes.subarray(4));
    assert.ok(typeof decoded !== "string");
    assert.equal(decoded.timestamp, 1727964367);
  });

  it("parses a witness's published key, checking its key ID", () => {
    const key = parseCosignerKey(REMORA_VKEY);
    assert.equal(key.name, "remora.n621.de");
    assert.equal(key.algorithm, "ed25519");
    assert.equal(key.publicKey.length, 32);
    assert.equal(cosignatureKeyId("ed25519", key.name, key.publicKey), 0xda77ade7);
    assert.equal(formatCosignerKey("ed25519", key.name, key.publicKey), REMORA_VKEY);
  });

  it("refuses a key whose ID is not its derivation, and keys of other types", () => {
    assert.throws(
      () => parseCosignerKey(REMORA_VKEY.replace("da77ade7", "da77ade8")),
      (error: unknown) =>
        error instanceof NoteFormatError && /key ID does not match/.test(error.message),
    );
    // The signed-note example key is a plain Ed25519 key (0x01), not a cosignature key.
    assert.throws(
      () =>
        parseCosignerKey("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"),
      /signature type 0x01 is neither 0x04/,
    );
    const short = formatVerifierKey("a", Uint8Array.of(0x04, 1, 2, 3));
    assert.throws(() => parseCosignerKey(short), /Ed25519 key is 3 bytes, not 32/);
  });

  it("round-trips timestamped signatures and refuses bad ones", () => {
    const signature = new Uint8Array(64).fill(7);
    const bytes = encodeTimestampedSignature(2 ** 40 + 5, signature);
    assert.deepEqual(decodeTimestampedSignature("ed25519", bytes), {
      timestamp: 2 ** 40 + 5,
      signature,
    });
    assert.match(
      String(decodeTimestampedSignature("ed25519", bytes.subarray(1))),
      /71 bytes where 72/,
    );
    const huge = bytes.slice();
    huge[0] = 0x7f;
    assert.match(String(decodeTimestampedSignature("ed25519", huge)), /timestamp \d+ is too large/);
    assert.throws(() => encodeTimestampedSignature(-1, signature), RangeError);
    assert.throws(() => cosignedMessage("ed25519", "a", 1.5, "x\n"), RangeError);
  });
});

describe("qmesh's ML-DSA-65 cosignature (type 0xff)", () => {
  it("is 0xff, a length byte and the identifier", () => {
    assert.deepEqual(ED25519_COSIGNATURE_TYPE, Uint8Array.of(0x04));
    assert.equal(MLDSA65_COSIGNATURE_TYPE[0], 0xff);
    assert.equal(MLDSA65_COSIGNATURE_TYPE[1], MLDSA65_COSIGNATURE_IDENTIFIER.length);
    assert.deepEqual(
      MLDSA65_COSIGNATURE_TYPE.subarray(2),
      encodeUtf8(MLDSA65_COSIGNATURE_IDENTIFIER),
    );
  });

  it("commits to the cosigner's name and the whole checkpoint", () => {
    const message = new TextDecoder().decode(
      cosignedMessage("ml-dsa-65", "n1", 7, "o\n1\nh\next\n"),
    );
    assert.equal(message, `${MLDSA65_COSIGNATURE_IDENTIFIER}\nname n1\ntime 7\no\n1\nh\next\n`);
  });

  it("round-trips a vkey, whose key ID covers the whole type", () => {
    const publicKey = new Uint8Array(MLDSA65_PUBLIC_KEY_BYTES).map((_, i) => i);
    const vkey = formatCosignerKey("ml-dsa-65", "example.com/n1", publicKey);
    assert.deepEqual(parseCosignerKey(vkey), {
      name: "example.com/n1",
      algorithm: "ml-dsa-65",
      publicKey,
    });
    const typeAndKey = new Uint8Array([...MLDSA65_COSIGNATURE_TYPE, ...publicKey]);
    assert.equal(
      cosignatureKeyId("ml-dsa-65", "example.com/n1", publicKey),
      computeKeyId("example.com/n1", typeAndKey),
    );
    assert.throws(
      () => formatCosignerKey("ml-dsa-65", "n1", publicKey.subarray(1)),
      /ML-DSA-65 public key is 1952 bytes, not 1951/,
    );
  });
});
