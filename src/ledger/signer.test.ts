// Member ledger keys: derivation from seeds (RFC 8032's first vector), the key file and public
// forms, and the signature lines a member puts on a checkpoint.
import assert from "node:assert/strict";
import { createPublicKey, verify } from "node:crypto";
import { describe, it } from "node:test";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import type { Checkpoint } from "./checkpoint.ts";
import {
  cosignatureKeyId,
  cosignedMessage,
  decodeTimestampedSignature,
  formatCosignerKey,
} from "./cosignature.ts";
import { EMPTY_ROOT } from "./merkle.ts";
import { parseNote } from "./note.ts";
import {
  cosignCheckpoint,
  decodeLedgerKeys,
  decodePublicLedgerKeys,
  encodeLedgerKeys,
  encodePublicLedgerKeys,
  generateLedgerKeys,
  LedgerKeysError,
  ledgerKeysFromSeeds,
  publicLedgerKeys,
  signCheckpoint,
} from "./signer.ts";

const unhex = (text: string) => new Uint8Array(Buffer.from(text, "hex"));
const seed = (byte: number) => new Uint8Array(32).fill(byte);

// RFC 8032 section 7.1, TEST 1.
const RFC8032_SECRET = unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const RFC8032_PUBLIC = unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");

const CHECKPOINT: Checkpoint = {
  origin: "qmesh.test/ledger",
  size: 0,
  rootHash: EMPTY_ROOT,
  extensions: [],
};

// One pair of each kind, made once: ML-DSA-65 key generation and signing take milliseconds.
const BOTH = ledgerKeysFromSeeds("example.com/n1", { ed25519: RFC8032_SECRET, mldsa: seed(1) });

describe("ledger keys", () => {
  it("derive from seeds: Ed25519 as RFC 8032, ML-DSA-65 as FIPS 204 keygen", () => {
    assert.deepEqual(BOTH.ed25519!.publicKey, RFC8032_PUBLIC);
    assert.deepEqual(BOTH.mldsa!.publicKey, ml_dsa65.keygen(seed(1)).publicKey);
    assert.equal(BOTH.mldsa!.publicKey.length, 1952);
  });

  it("are generated fresh, with both algorithms unless told otherwise", () => {
    const both = generateLedgerKeys("n1");
    assert.ok(both.ed25519 && both.mldsa);
    const edOnly = generateLedgerKeys("n1", { mldsa: false });
    assert.ok(edOnly.ed25519 && !edOnly.mldsa);
    assert.notDeepEqual(edOnly.ed25519.seed, both.ed25519.seed);
    const mldsaOnly = generateLedgerKeys("n1", { ed25519: false, mldsa: true });
    assert.ok(!mldsaOnly.ed25519 && mldsaOnly.mldsa);
    assert.throws(
      () => generateLedgerKeys("n1", { ed25519: false, mldsa: false }),
      /at least one ledger key/,
    );
    assert.throws(() => generateLedgerKeys("n 1"), /not a key name/);
    assert.throws(
      () => ledgerKeysFromSeeds("n1", { ed25519: new Uint8Array(31) }),
      /31 bytes, not 32/,
    );
  });

  it("round-trip through the key file, which holds seeds and vkeys only", () => {
    const text = encodeLedgerKeys(BOTH);
    const record = JSON.parse(text);
    assert.deepEqual(Object.keys(record), ["format", "name", "ed25519", "ml-dsa-65"]);
    assert.deepEqual(Object.keys(record.ed25519), ["seed", "vkey"]);
    assert.equal(
      record.ed25519.vkey,
      formatCosignerKey("ed25519", "example.com/n1", RFC8032_PUBLIC),
    );
    assert.deepEqual(decodeLedgerKeys(text), BOTH);
    const edOnly = ledgerKeysFromSeeds("n2", { ed25519: seed(2) });
    assert.deepEqual(decodeLedgerKeys(encodeLedgerKeys(edOnly)), edOnly);
  });

  it("refuse a key file whose vkey is not its seed's, or that is malformed", () => {
    const record = JSON.parse(encodeLedgerKeys(BOTH));
    const other = ledgerKeysFromSeeds("example.com/n1", { ed25519: seed(9) });
    const swapped = {
      ...record,
      ed25519: {
        ...record.ed25519,
        vkey: formatCosignerKey("ed25519", "example.com/n1", other.ed25519!.publicKey),
      },
    };
    const cases: [unknown, RegExp][] = [
      [swapped, /stored Ed25519 vkey does not match its seed/],
      [{ ...record, format: "v0" }, /format is "v0"/],
      [{ ...record, extra: 1 }, /unknown field "extra"/],
      [{ ...record, name: 7 }, /name is not a string/],
      [
        { ...record, ed25519: { ...record.ed25519, seed: "AAAA" } },
        /ed25519.seed is not the base64 of 32 bytes/,
      ],
      [
        { ...record, ed25519: { ...record.ed25519, vkey: record["ml-dsa-65"].vkey } },
        /ed25519 holds a key of ml-dsa-65/,
      ],
      [{ format: record.format, name: "n1" }, /at least one ledger key/],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => decodeLedgerKeys(JSON.stringify(value)),
        (error: unknown) => error instanceof LedgerKeysError && message.test(error.message),
        String(message),
      );
    }
    assert.throws(() => decodeLedgerKeys("{"), /not JSON/);
    assert.throws(() => decodeLedgerKeys("[]"), /not a JSON object/);
  });

  it("publish as vkeys only", () => {
    const member = publicLedgerKeys(BOTH);
    assert.deepEqual(member, {
      name: "example.com/n1",
      ed25519PublicKey: BOTH.ed25519!.publicKey,
      mldsaPublicKey: BOTH.mldsa!.publicKey,
    });
    const text = encodePublicLedgerKeys(member);
    assert.ok(!text.includes("seed"));
    assert.deepEqual(decodePublicLedgerKeys(text), member);
    const mldsaOnly = { name: "n3", mldsaPublicKey: BOTH.mldsa!.publicKey };
    assert.deepEqual(decodePublicLedgerKeys(encodePublicLedgerKeys(mldsaOnly)), mldsaOnly);
    const renamed = JSON.parse(text);
    renamed.name = "example.com/n2";
    assert.throws(
      () => decodePublicLedgerKeys(JSON.stringify(renamed)),
      /holds a key of ed25519 for "example.com\/n1"/,
    );
  });
});

describe("signing checkpoints", () => {
  it("makes a tlog-cosignature v1 line and an ML-DSA-65 line, Ed25519 first", () => {
    const timestamp = 1_700_000_000;
    const [ed, ml] = cosignCheckpoint(BOTH, CHECKPOINT, timestamp);
    assert.ok(ed && ml);
    assert.equal(ed.keyId, cosignatureKeyId("ed25519", BOTH.name, BOTH.ed25519!.publicKey));
    assert.equal(ml.keyId, cosignatureKeyId("ml-dsa-65", BOTH.name, BOTH.mldsa!.publicKey));
    const text = parseNote(signCheckpoint(BOTH, CHECKPOINT, timestamp)).text;
    const edDecoded = decodeTimestampedSignature("ed25519", ed.signature);
    const mlDecoded = decodeTimestampedSignature("ml-dsa-65", ml.signature);
    assert.ok(typeof edDecoded !== "string" && typeof mlDecoded !== "string");
    assert.equal(edDecoded.timestamp, timestamp);
    assert.equal(mlDecoded.timestamp, timestamp);
    // Checked here with other implementations than the verifier's: OpenSSL and noble directly.
    const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), RFC8032_PUBLIC]);
    const publicKey = createPublicKey({ key: spki, format: "der", type: "spki" });
    const edMessage = cosignedMessage("ed25519", BOTH.name, timestamp, text);
    assert.ok(verify(null, edMessage, publicKey, edDecoded.signature));
    const mlMessage = cosignedMessage("ml-dsa-65", BOTH.name, timestamp, text);
    assert.ok(ml_dsa65.verify(mlDecoded.signature, mlMessage, BOTH.mldsa!.publicKey));
  });

  it("gives the same Ed25519 signature for the same checkpoint and time", () => {
    const edOnly = ledgerKeysFromSeeds("n2", { ed25519: seed(2) });
    assert.equal(signCheckpoint(edOnly, CHECKPOINT, 5), signCheckpoint(edOnly, CHECKPOINT, 5));
    assert.notEqual(signCheckpoint(edOnly, CHECKPOINT, 5), signCheckpoint(edOnly, CHECKPOINT, 6));
  });

  it("refuses a time that is not POSIX seconds", () => {
    const edOnly = ledgerKeysFromSeeds("n2", { ed25519: seed(2) });
    assert.throws(() => signCheckpoint(edOnly, CHECKPOINT, -1), RangeError);
    assert.throws(() => signCheckpoint(edOnly, CHECKPOINT, Date.now() / 1000), RangeError);
  });
});
