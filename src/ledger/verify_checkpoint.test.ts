// verifyCheckpoint: quorum counting (both algorithms per member, unknown signers ignored,
// duplicates once), every flipped bit refused, clear reasons, a real witness-cosigned checkpoint,
// and the browser rule: nothing from node: in the verifier's import graph.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { sha256 } from "@noble/hashes/sha2.js";
import fc from "fast-check";
import { type Checkpoint, formatCheckpoint } from "./checkpoint.ts";
import { parseCosignerKey, type TrustedMember } from "./cosignature.ts";
import { encodeUtf8 } from "./encoding.ts";
import { formatNote, type NoteSignature } from "./note.ts";
import {
  cosignCheckpoint,
  type LedgerKeys,
  ledgerKeysFromSeeds,
  publicLedgerKeys,
} from "./signer.ts";
import {
  type CheckpointRejection,
  CheckpointVerificationError,
  verifyCheckpoint,
} from "./verify_checkpoint.ts";

const TIME = 1_760_000_000;
const CHECKPOINT: Checkpoint = {
  origin: "qmesh.test/ledger",
  size: 3,
  rootHash: sha256(encodeUtf8("a root")),
  extensions: [],
};
const TEXT = formatCheckpoint(CHECKPOINT);

const seed = (byte: number) => new Uint8Array(32).fill(byte);
const keys = (name: string, ed25519?: number, mldsa?: number): LedgerKeys =>
  ledgerKeysFromSeeds(name, {
    ...(ed25519 !== undefined && { ed25519: seed(ed25519) }),
    ...(mldsa !== undefined && { mldsa: seed(mldsa) }),
  });

const A = keys("n1.qmesh.test", 1, 2);
const B = keys("n2.qmesh.test", 3, 4);
const C = keys("n3.qmesh.test", 5, 6);
const OUTSIDER = keys("x.qmesh.test", 7, 8);
const IMPOSTOR = keys(B.name, 7, 8); // B's name, other keys: the same name, another key ID
const ED_ONLY = keys("e.qmesh.test", 9);
const MLDSA_ONLY = keys("m.qmesh.test", undefined, 10);
const MEMBERS = [A, B, C].map(publicLedgerKeys);

// Each member signs once (ML-DSA-65 signing takes milliseconds); tests mix the lines.
const lines = new Map<LedgerKeys, NoteSignature[]>(
  [A, B, C, OUTSIDER, IMPOSTOR, ED_ONLY, MLDSA_ONLY].map((k) => [
    k,
    cosignCheckpoint(k, CHECKPOINT, TIME),
  ]),
);
const ed = (k: LedgerKeys) => lines.get(k)![0]!;
const ml = (k: LedgerKeys) => lines.get(k)!.at(-1)!;
const all = (k: LedgerKeys) => lines.get(k)!;
const note = (...signatures: NoteSignature[]) => formatNote({ text: TEXT, signatures });

async function rejects(
  promise: Promise<unknown>,
  reason: CheckpointRejection,
  message?: string | RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CheckpointVerificationError, String(error));
    assert.equal(error.reason, reason, error.message);
    if (typeof message === "string") assert.equal(error.message, message);
    else if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

describe("verifyCheckpoint: quorum", () => {
  it("accepts a checkpoint that every member signed", async () => {
    const result = await verifyCheckpoint(note(...all(A), ...all(B), ...all(C)), MEMBERS, 2);
    assert.deepEqual(result.checkpoint, CHECKPOINT);
    assert.deepEqual(result.signers, [A.name, B.name, C.name]);
    assert.equal(result.cosignatures.length, 6);
    assert.ok(result.cosignatures.every((c) => c.timestamp === TIME));
  });

  it("accepts a quorum and lists the signers in the members' order", async () => {
    const result = await verifyCheckpoint(note(...all(C), ...all(A)), MEMBERS, 2);
    assert.deepEqual(result.signers, [A.name, C.name]);
  });

  it("refuses fewer signers than the quorum", async () => {
    await rejects(
      verifyCheckpoint(note(...all(A)), MEMBERS, 2),
      "no-quorum",
      "signed by 1 of 3 members, a quorum is 2",
    );
  });

  it("counts a member only if every algorithm it has a key for verified", async () => {
    await rejects(
      verifyCheckpoint(note(...all(A), ed(B)), MEMBERS, 2),
      "no-quorum",
      "signed by 1 of 3 members, a quorum is 2 (n2.qmesh.test has no ML-DSA-65 signature)",
    );
    await rejects(
      verifyCheckpoint(note(...all(A), ml(B)), MEMBERS, 2),
      "no-quorum",
      /n2.qmesh.test has no Ed25519 signature/,
    );
  });

  it("ignores signers it does not know, even under a member's name", async () => {
    await rejects(
      verifyCheckpoint(note(...all(A), ...all(OUTSIDER), ...all(IMPOSTOR)), MEMBERS, 2),
      "no-quorum",
      "signed by 1 of 3 members, a quorum is 2",
    );
    const result = await verifyCheckpoint(note(...all(OUTSIDER), ...all(A), ...all(B)), MEMBERS, 2);
    assert.deepEqual(result.signers, [A.name, B.name]);
  });

  it("counts a member's repeated signatures once", async () => {
    await rejects(
      verifyCheckpoint(note(...all(A), ...all(A), ...all(A)), MEMBERS, 2),
      "no-quorum",
      "signed by 1 of 3 members, a quorum is 2",
    );
    // Two valid signatures at different times are still one member.
    const later = cosignCheckpoint(ED_ONLY, CHECKPOINT, TIME + 1);
    const trusted = [ED_ONLY, MLDSA_ONLY].map(publicLedgerKeys);
    await rejects(
      verifyCheckpoint(note(ed(ED_ONLY), ...later), trusted, 2),
      "no-quorum",
      "signed by 1 of 2 members, a quorum is 2",
    );
  });

  it("works with Ed25519-only and ML-DSA-only members", async () => {
    const trusted = [ED_ONLY, MLDSA_ONLY].map(publicLedgerKeys);
    const result = await verifyCheckpoint(note(...all(ED_ONLY), ...all(MLDSA_ONLY)), trusted, 2);
    assert.deepEqual(result.signers, [ED_ONLY.name, MLDSA_ONLY.name]);
    assert.deepEqual(
      result.cosignatures.map((c) => c.algorithm),
      ["ed25519", "ml-dsa-65"],
    );
    // A member trusted for one algorithm counts on that one; its other line is unknown.
    const edView: TrustedMember = { name: A.name, ed25519PublicKey: A.ed25519!.publicKey };
    const mlView: TrustedMember = { name: B.name, mldsaPublicKey: B.mldsa!.publicKey };
    const mixed = await verifyCheckpoint(note(...all(A), ml(B)), [edView, mlView], 2);
    assert.deepEqual(mixed.signers, [A.name, B.name]);
  });

  it("reads a note given as bytes as it reads its text", async () => {
    const text = note(...all(A), ...all(B));
    const fromBytes = await verifyCheckpoint(encodeUtf8(text), MEMBERS, 2);
    assert.deepEqual(fromBytes, await verifyCheckpoint(text, MEMBERS, 2));
  });
});

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = bytes.slice();
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
}

function flipSignatureBit(line: NoteSignature, bit: number): NoteSignature {
  // Bits 0..31 are the key ID, then the signature bytes (timestamp first).
  if (bit < 32) return { ...line, keyId: (line.keyId ^ (1 << (31 - bit))) >>> 0 };
  return { ...line, signature: flipBit(line.signature, bit - 32) };
}

describe("verifyCheckpoint: tampering", () => {
  // One signer, quorum 1: a flip anywhere must take the only signature out of the count.
  const edTrusted = [publicLedgerKeys(ED_ONLY)];
  const mlTrusted = [publicLedgerKeys(MLDSA_ONLY)];
  const textBits = encodeUtf8(TEXT).length * 8;

  it("refuses every one-bit change of the checkpoint text (Ed25519)", async () => {
    const bytes = encodeUtf8(note(ed(ED_ONLY)));
    for (let bit = 0; bit < textBits; bit++) {
      await assert.rejects(
        verifyCheckpoint(flipBit(bytes, bit), edTrusted, 1),
        CheckpointVerificationError,
        `bit ${bit}`,
      );
    }
  });

  it("refuses one-bit changes of the checkpoint text (ML-DSA-65, sampled)", async () => {
    const bytes = encodeUtf8(note(ml(MLDSA_ONLY)));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: textBits - 1 }), async (bit) => {
        await assert.rejects(
          verifyCheckpoint(flipBit(bytes, bit), mlTrusted, 1),
          CheckpointVerificationError,
        );
      }),
      { numRuns: 10 },
    );
  });

  it("refuses every one-bit change of an Ed25519 signature line", async () => {
    const bits = (4 + ed(ED_ONLY).signature.length) * 8;
    for (let bit = 0; bit < bits; bit++) {
      const tampered = note(flipSignatureBit(ed(ED_ONLY), bit));
      await assert.rejects(
        verifyCheckpoint(tampered, edTrusted, 1),
        CheckpointVerificationError,
        `bit ${bit}`,
      );
    }
  });

  it("refuses one-bit changes of an ML-DSA-65 signature line (sampled)", async () => {
    const bits = (4 + ml(MLDSA_ONLY).signature.length) * 8;
    // Half the samples in the key ID and timestamp, half anywhere.
    const positions = fc.oneof(
      fc.integer({ min: 0, max: 95 }),
      fc.integer({ min: 0, max: bits - 1 }),
    );
    await fc.assert(
      fc.asyncProperty(positions, async (bit) => {
        const tampered = note(flipSignatureBit(ml(MLDSA_ONLY), bit));
        await assert.rejects(verifyCheckpoint(tampered, mlTrusted, 1), CheckpointVerificationError);
      }),
      { numRuns: 12 },
    );
  });

  it("names the member whose signature does not verify", async () => {
    const badEd = flipSignatureBit(ed(A), 32 + 64 + 5);
    await rejects(
      verifyCheckpoint(note(badEd, ...all(B)), MEMBERS, 1),
      "bad-signature",
      "signature by n1.qmesh.test (Ed25519) does not verify",
    );
    const badMl = flipSignatureBit(ml(B), 32 + 64 + 5);
    await rejects(
      verifyCheckpoint(note(...all(A), ed(B), badMl), MEMBERS, 1),
      "bad-signature",
      "signature by n2.qmesh.test (ML-DSA-65) does not verify",
    );
    const short = { ...ed(A), signature: ed(A).signature.subarray(1) };
    await rejects(
      verifyCheckpoint(note(short), MEMBERS, 1),
      "bad-signature",
      "signature by n1.qmesh.test (Ed25519) is malformed: 71 bytes where 72 are due",
    );
  });

  it("refuses another log's checkpoint when told the origin", async () => {
    const text = note(...all(A), ...all(B));
    await rejects(
      verifyCheckpoint(text, MEMBERS, 2, { origin: "qmesh.test/other" }),
      "wrong-origin",
      'the checkpoint is for "qmesh.test/ledger", not "qmesh.test/other"',
    );
    const result = await verifyCheckpoint(text, MEMBERS, 2, { origin: CHECKPOINT.origin });
    assert.equal(result.checkpoint.origin, CHECKPOINT.origin);
  });
});

describe("verifyCheckpoint: malformed input and configuration", () => {
  const line = "— n1.qmesh.test AAAAAQE=\n";

  it("says what is wrong with a malformed note or checkpoint", async () => {
    await rejects(
      verifyCheckpoint(`o\n1\nroot\n${line}`, MEMBERS, 1),
      "malformed-note",
      /no blank line/,
    );
    await rejects(
      verifyCheckpoint(`o\nten\nroot\n\n${line}`, MEMBERS, 1),
      "malformed-checkpoint",
      'not a checkpoint: line 2 is not a tree size: "ten"',
    );
    await rejects(
      verifyCheckpoint(`${TEXT}\n${line.repeat(3)}`, MEMBERS, 1, { maxSignatures: 2 }),
      "malformed-note",
      /3 signatures, more than the limit of 2/,
    );
  });

  it("refuses a configuration that cannot mean anything", async () => {
    const text = note(...all(A));
    await assert.rejects(verifyCheckpoint(text, MEMBERS, 0), /quorum 0 is outside 1..3/);
    await assert.rejects(verifyCheckpoint(text, MEMBERS, 4), RangeError);
    await assert.rejects(verifyCheckpoint(text, MEMBERS, 1.5), RangeError);
    await assert.rejects(verifyCheckpoint(text, [], 1), RangeError);
    await assert.rejects(verifyCheckpoint(text, [MEMBERS[0]!, MEMBERS[0]!], 1), /listed twice/);
    await assert.rejects(verifyCheckpoint(text, [{ name: "n9" }], 1), /has no public key/);
    await assert.rejects(
      verifyCheckpoint(text, [{ name: "n9", ed25519PublicKey: new Uint8Array(31) }], 1),
      /Ed25519 key is 31 bytes, not 32/,
    );
  });
});

describe("verifyCheckpoint: a real checkpoint", () => {
  // A CT log's checkpoint with witness cosignatures (type 0x04) as served in 2026, kept in the
  // tests of a Python tlog library; remora.n621.de's key is in transparency-dev/formats' tests.
  const REAL = `arche2025h1.staging.ct.transparency.dev
1432088532
U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=

— arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=
— arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=
— transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==
— witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==
— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==
— witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==
`;
  const remora = parseCosignerKey(
    "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
  );
  const trusted = [{ name: remora.name, ed25519PublicKey: remora.publicKey }];

  it("verifies a witness's tlog-cosignature v1 made by another implementation", async () => {
    const result = await verifyCheckpoint(REAL, trusted, 1);
    assert.deepEqual(result.signers, ["remora.n621.de"]);
    assert.equal(result.checkpoint.size, 1432088532);
    assert.deepEqual(result.cosignatures, [
      { name: "remora.n621.de", algorithm: "ed25519", timestamp: 0x6a122120 },
    ]);
  });

  it("refuses it with another tree size", async () => {
    await rejects(
      verifyCheckpoint(REAL.replace("1432088532", "1432088533"), trusted, 1),
      "bad-signature",
      "signature by remora.n621.de (Ed25519) does not verify",
    );
  });
});

describe("the client side (browser.ts) runs in browsers", () => {
  it("imports nothing from node: (nor uses Buffer or process), itself or through its imports", () => {
    const seen = new Set<string>();
    const visit = (path: string): void => {
      if (seen.has(path)) return;
      seen.add(path);
      const source = readFileSync(path, "utf8");
      const name = path.slice(path.lastIndexOf("/") + 1);
      assert.doesNotMatch(source, /["']node:|\bBuffer\b|\bprocess\.|\brequire\(/, name);
      for (const [, specifier] of source.matchAll(/\bfrom\s+"([^"]+)"/g)) {
        if (specifier!.startsWith(".")) visit(resolve(dirname(path), specifier!));
        else
          assert.match(
            specifier!,
            /^@noble\/(hashes|post-quantum)\//,
            `${name} imports ${specifier}`,
          );
      }
    };
    visit(join(import.meta.dirname, "browser.ts"));
    assert.deepEqual([...seen].map((path) => path.slice(path.lastIndexOf("/") + 1)).sort(), [
      "browser.ts",
      "checkpoint.ts",
      "cosignature.ts",
      "encoding.ts",
      "leaf.ts",
      "merkle.ts",
      "note.ts",
      "public_keys.ts",
      "receipt.ts",
      "verify_checkpoint.ts",
    ]);
  });
});
