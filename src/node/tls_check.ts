// A member checks its own certificate before it listens: a certificate issued to another
// member, signed by another CA, expired, or paired with the wrong key is refused at startup
// with a message that names the file, rather than failing every handshake later.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { join } from "node:path";

export class CertificateError extends Error {
  override name = "CertificateError";
}

export interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export function checkMemberCertificate(material: TlsFiles, name: string, certDir: string): void {
  const certFile = join(certDir, `${name}.crt`);
  const fix = `create one with \`qmesh certs ${name} --dir ${certDir}\``;
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    cert = new X509Certificate(material.cert);
    ca = new X509Certificate(material.ca);
  } catch (error) {
    throw new CertificateError(
      `${certFile} or ca.crt is not a PEM certificate (${(error as Error).message})`,
    );
  }
  const commonName = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  if (commonName !== name) {
    throw new CertificateError(
      `${certFile} is issued to "${commonName}", not to this member "${name}": ${fix}`,
    );
  }
  if (!cert.verify(ca.publicKey)) {
    throw new CertificateError(`${certFile} is not signed by ${join(certDir, "ca.crt")}: ${fix}`);
  }
  if (Date.parse(cert.validTo) < Date.now()) {
    throw new CertificateError(`${certFile} expired on ${cert.validTo}: ${fix}`);
  }
  if (!cert.checkPrivateKey(createPrivateKey(material.key))) {
    throw new CertificateError(`${join(certDir, `${name}.key`)} is not the key of ${certFile}`);
  }
}
