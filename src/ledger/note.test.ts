// C2SP signed-note: the spec's own example and verifier key, golang.org/x/mod/sumdb/note's
// published key and signature (reproduced byte for byte), key IDs of other implementations'
// keys, round trips, and a clear refusal for each way a note can be malformed.
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeBase64, encodeUtf8 } from "./encoding.ts";
import {
  combineNotes,
  computeKeyId,
  formatNote,
  formatVerifierKey,
  isValidKeyName,
  MAX_NOTE_SIGNATURES,
  NoteFormatError,
  type NoteSignature,
  parseNote,
  parseVerifierKey,
  type SignedNote,
} from "./note.ts";

const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

function verifyPlainEd25519(publicKey: Uint8Array, text: string, signature: Uint8Array): boolean {
  const key = createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, publicKey]),
    format: "der",
    type: "spki",
  });
  return verify(null, encodeUtf8(text), key, signature);
}

// c2sp.org/signed-note, "Verifier keys", Example.
const SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const SPEC_NOTE =
  "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

// golang.org/x/mod/sumdb/note, package documentation and note_test.go.
const PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_NOTE = `${PETER_TEXT}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

describe("signed-note: published examples", () => {
  it("parses the spec's verifier key and verifies the spec's note with it", () => {
    const vkey = parseVerifierKey(SPEC_VKEY);
    assert.equal(vkey.name, "example.com/foo");
    assert.equal(vkey.keyId, 0x530d903a);
    assert.equal(vkey.typeAndPublicKey[0], 0x01);
    assert.equal(computeKeyId(vkey.name, vkey.typeAndPublicKey), 0x530d903a);
    assert.equal(formatVerifierKey(vkey.name, vkey.typeAndPublicKey), SPEC_VKEY);

    const note = parseNote(SPEC_NOTE);
    assert.equal(note.text, "This is an example message.\n");
    assert.equal(note.signatures.length, 1);
    const [signature] = note.signatures as [NoteSignature];
    assert.equal(signature.name, "example.com/foo");
    assert.equal(signature.keyId, vkey.keyId);
    const publicKey = vkey.typeAndPublicKey.subarray(1);
    assert.ok(verifyPlainEd25519(publicKey, note.text, signature.signature));
    assert.ok(!verifyPlainEd25519(publicKey, "This is an example message!\n", signature.signature));
    assert.equal(formatNote(note), SPEC_NOTE);
  });

  it("reproduces Go's PeterNeumann note from its private key", () => {
    // The base64 holds a "+", so the key splits at the first four separators only.
    const prefix = "PRIVATE+KEY+PeterNeumann+c74f20a3+";
    assert.ok(PETER_SKEY.startsWith(prefix));
    const secret = decodeBase64(PETER_SKEY.slice(prefix.length))!;
    assert.equal(secret[0], 0x01);
    const privateKey = createPrivateKey({
      key: Buffer.concat([ED25519_PKCS8_PREFIX, secret.subarray(1)]),
      format: "der",
      type: "pkcs8",
    });
    const vkey = parseVerifierKey(PETER_VKEY);
    assert.equal(vkey.keyId, 0xc74f20a3);
    assert.equal(computeKeyId("PeterNeumann", vkey.typeAndPublicKey), 0xc74f20a3);
    const signature = new Uint8Array(sign(null, encodeUtf8(PETER_TEXT), privateKey));
    const note = formatNote({
      text: PETER_TEXT,
      signatures: [{ name: "PeterNeumann", keyId: vkey.keyId, signature }],
    });
    assert.equal(note, PETER_NOTE);
    assert.deepEqual(parseNote(PETER_NOTE).signatures[0]!.signature, signature);
  });

  it("derives the key IDs of other implementations' verifier keys", () => {
    for (const vkey of [
      "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop", // x/mod note_test.go
      "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6", // transparency-dev/formats; "+" in the base64
      "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2", // a witness, type 0x04
    ]) {
      const parsed = parseVerifierKey(vkey);
      assert.equal(computeKeyId(parsed.name, parsed.typeAndPublicKey), parsed.keyId, vkey);
      assert.equal(formatVerifierKey(parsed.name, parsed.typeAndPublicKey), vkey);
    }
  });

  it("finds the text of the spec's poem by the last blank line", () => {
    const poem =
      "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n";
    const note = `${poem}\n— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n`;
    const parsed = parseNote(note);
    assert.equal(parsed.text, poem);
    assert.equal(parsed.signatures[0]!.name, "quasimodo.example/salvatore");
    assert.equal(parsed.signatures[0]!.signature.length, 64);
    assert.equal(formatNote(parsed), note);
    assert.deepEqual(parseNote(encodeUtf8(note)), parsed);
  });
});

const printable = fc.integer({ min: 0x20, max: 0xd7ff }).map((code) => String.fromCharCode(code));
const noteTexts = fc
  .array(fc.string({ unit: printable, maxLength: 30 }), { minLength: 1, maxLength: 6 })
  .map((lines) => `${lines.join("\n")}\n`);
const keyNames = fc
  .string({ unit: printable, minLength: 1, maxLength: 20 })
  .filter((name) => isValidKeyName(name));
const signatures = fc
  .record({
    name: keyNames,
    keyId: fc.integer({ min: 0, max: 0xffffffff }),
    signature: fc.uint8Array({ minLength: 1, maxLength: 80 }),
  })
  .map((record): NoteSignature => ({ ...record })); // fast-check's records have no prototype

describe("signed-note: round trips", () => {
  it("parses what it formats, for any text and signatures", () => {
    fc.assert(
      fc.property(noteTexts, fc.array(signatures, { minLength: 1, maxLength: 4 }), (text, sigs) => {
        const note: SignedNote = { text, signatures: sigs };
        const formatted = formatNote(note);
        assert.deepEqual(parseNote(formatted), note);
        assert.deepEqual(parseNote(encodeUtf8(formatted)), note);
      }),
    );
  });

  it("combines notes over one text, each signature once", () => {
    const a: NoteSignature = { name: "a", keyId: 1, signature: Uint8Array.of(1) };
    const b: NoteSignature = { name: "b", keyId: 2, signature: Uint8Array.of(2) };
    const text = "x\n";
    const combined = combineNotes([
      formatNote({ text, signatures: [a] }),
      formatNote({ text, signatures: [b, a] }),
    ]);
    assert.deepEqual(parseNote(combined), { text, signatures: [a, b] });
    assert.throws(
      () =>
        combineNotes([
          formatNote({ text, signatures: [a] }),
          formatNote({ text: "y\n", signatures: [a] }),
        ]),
      /texts differ/,
    );
  });

  it("accepts key names with any non-space character, refuses spaces and plus signs", () => {
    assert.ok(isValidKeyName("example.com/log-1"));
    assert.ok(isValidKeyName("ünïcödé"));
    for (const name of ["", "a b", "a+b", "a\u00a0b", "a\u2003b", "a\nb", "a\u0085b", "a\u0001b"]) {
      assert.ok(!isValidKeyName(name), JSON.stringify(name));
    }
  });
});

const GOOD_LINE = "— a AAAAAQE=\n";

describe("signed-note: malformed notes", () => {
  const cases: [string, string | Uint8Array, RegExp][] = [
    ["no blank line", `x\n${GOOD_LINE}`, /no blank line separates the text from the signatures/],
    ["no signatures", "x\n\n", /no signatures/],
    ["a last line without a newline", `x\n\n${GOOD_LINE.trimEnd()}`, /does not end in a newline/],
    ["CRLF line endings", `x\r\n\r\n${GOOD_LINE}`, /line 1 ends in a carriage return/],
    [
      "a control character",
      `x\ny\tz\n\n${GOOD_LINE}`,
      /line 2 holds the control character U\+0009/,
    ],
    ["a lone surrogate", `x\ud800\n\n${GOOD_LINE}`, /not valid UTF-8/],
    ["invalid UTF-8", Uint8Array.of(0x78, 0xff, 0x0a, 0x0a), /not valid UTF-8/],
    [
      "a hyphen for the em dash",
      "x\n\n- a AAAAAQE=\n",
      /signature line 1 does not start with "— "/,
    ],
    ["an en dash for the em dash", "x\n\n– a AAAAAQE=\n", /does not start with "— "/],
    ["a line without a signature", "x\n\n— a\n", /signature line 1 has no signature/],
    ["a plus in the key name", "x\n\n— a+b AAAAAQE=\n", /invalid key name "a\+b"/],
    ["an empty key name", "x\n\n—  AAAAAQE=\n", /invalid key name ""/],
    ["base64 that is not", "x\n\n— a AAAA!QE=\n", /not canonical base64/],
    ["base64 without padding", "x\n\n— a AAAAAQE\n", /not canonical base64/],
    ["base64 with spare bits", "x\n\n— a AAAAAQF=\n", /not canonical base64/],
    ["two spaces after the name", "x\n\n— a  AAAAAQE=\n", /not canonical base64/],
    ["a signature of only a key ID", "x\n\n— a AAAAAQ==\n", /4 bytes, too short/],
    ["a second, bad signature line", `x\n\n${GOOD_LINE}— b\n`, /signature line 2 has no signature/],
    [
      "too many signatures",
      `x\n\n${GOOD_LINE.repeat(MAX_NOTE_SIGNATURES + 1)}`,
      /101 signatures, more than the limit of 100/,
    ],
  ];
  for (const [what, note, message] of cases) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => parseNote(note),
        (error: unknown) => error instanceof NoteFormatError && message.test(error.message),
      );
    });
  }

  it("refuses a note longer than the limit before reading it", () => {
    assert.throws(
      () => parseNote(`x\n\n${GOOD_LINE}`, { maxLength: 5 }),
      /more than the limit of 5/,
    );
  });

  it("refuses to format what it would refuse to parse", () => {
    const signature: NoteSignature = { name: "a", keyId: 1, signature: Uint8Array.of(1) };
    assert.throws(
      () => formatNote({ text: "x", signatures: [signature] }),
      /does not end in a newline/,
    );
    assert.throws(() => formatNote({ text: "x\r\n", signatures: [signature] }), /carriage return/);
    assert.throws(() => formatNote({ text: "x\n", signatures: [] }), /without signatures/);
    assert.throws(
      () => formatNote({ text: "x\n", signatures: Array(MAX_NOTE_SIGNATURES + 1).fill(signature) }),
      /101 signatures, more than the limit of 100/,
    );
    assert.throws(
      () => formatNote({ text: "x\n", signatures: [{ ...signature, name: "a b" }] }),
      /not a valid key name/,
    );
    assert.throws(
      () => formatNote({ text: "x\n", signatures: [{ ...signature, keyId: 2 ** 32 }] }),
      /not a uint32/,
    );
  });
});

describe("signed-note: malformed verifier keys", () => {
  const cases: [string, string, RegExp][] = [
    ["no separators", "example.com/foo", /is not name\+keyid\+key/],
    ["one separator", "example.com/foo+530d903a", /is not name\+keyid\+key/],
    ["a short key ID", SPEC_VKEY.replace("530d903a", "530d903"), /not 8 lowercase hex digits/],
    ["an uppercase key ID", SPEC_VKEY.replace("530d903a", "530D903A"), /not 8 lowercase hex/],
    ["a space in the name", `a b+530d903a+AQI=`, /not a valid key name/],
    ["bad base64", `${SPEC_VKEY}!`, /not the canonical base64/],
    [
      "a type without a key",
      "a+00000000+AQ==",
      /not the canonical base64 of a type and a public key/,
    ],
  ];
  for (const [what, vkey, message] of cases) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => parseVerifierKey(vkey),
        (error: unknown) => error instanceof NoteFormatError && message.test(error.message),
      );
    });
  }
});
