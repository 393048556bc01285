import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createClusterCertificates, loadTlsMaterial } from "./certs.ts";

describe("certs", () => {
  const dir = mkdtempSync(join(tmpdir(), "qmesh-certs-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("creates a CA and member certificates", async () => {
    await createClusterCertificates(dir, ["n1", "n2", "n3"]);
    const ca = new X509Certificate(readFileSync(join(dir, "ca.crt")));
    assert.equal(ca.ca, true);
    for (const name of ["n1", "n2", "n3"]) {
      const material = loadTlsMaterial(dir, name);
      const cert = new X509Certificate(material.cert);
      assert.equal(cert.subject, `CN=${name}`);
      assert.ok(cert.verify(ca.publicKey), "signed by the CA");
      assert.ok(cert.checkIssued(ca));
      assert.match(cert.subjectAltName ?? "", new RegExp(`DNS:${name}`));
      assert.match(cert.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
      assert.deepEqual(cert.keyUsage?.sort(), ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
      const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
      assert.ok(days > 360 && days < 370, `member validity ${days} days`);
      assert.equal(statSync(join(dir, `${name}.key`)).mode & 0o777, 0o600);
    }
    const caDays = (Date.parse(ca.validTo) - Date.now()) / 86_400_000;
    assert.ok(caDays > 3600, `CA validity ${caDays} days`);
    assert.equal(statSync(join(dir, "ca.key")).mode & 0o777, 0o600);
  });

  it("is idempotent: keeps the CA and existing members, adds missing ones", async () => {
    const caBefore = readFileSync(join(dir, "ca.crt"), "utf8");
    const n1Before = readFileSync(join(dir, "n1.crt"), "utf8");
    unlinkSync(join(dir, "n2.crt"));
    await createClusterCertificates(dir, ["n1", "n2", "n3", "n4"]);
    assert.equal(readFileSync(join(dir, "ca.crt"), "utf8"), caBefore);
    assert.equal(readFileSync(join(dir, "n1.crt"), "utf8"), n1Before);
    const ca = new X509Certificate(caBefore);
    for (const name of ["n2", "n4"]) {
      assert.ok(new X509Certificate(readFileSync(join(dir, `${name}.crt`))).verify(ca.publicKey));
    }
  });

  it("names the missing file", () => {
    assert.throws(() => loadTlsMaterial(dir, "n9"), /n9\.crt is missing/);
  });

  it("refuses names that cannot be file names", async () => {
    await assert.rejects(createClusterCertificates(dir, ["../evil"]), /cannot name a certificate/);
  });
});
