// Reading PEM files named by flags (--cert-file, --peer-key-file, ...) and checking them before
// the member listens: a missing file, a key that is not the certificate's, or an expired
// certificate is reported at startup by the flag that names it, not as failing handshakes later.
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";

export class TlsFileError extends Error {
  override name = "TlsFileError";
}

/** A file's bytes; the message names the flag and the path. */
export function readTlsFile(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? String(error)})`;
    throw new TlsFileError(`${flag}: ${path} ${why}`);
  }
}

export interface CertificatePair {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly certificate: X509Certificate;
}

/** A certificate and its private key, checked to belong together and to be valid now. */
export function loadCertificatePair(
  certFile: string,
  keyFile: string,
  flags: { cert: string; key: string },
): CertificatePair {
  const cert = readTlsFile(certFile, flags.cert);
  const key = readTlsFile(keyFile, flags.key);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (error) {
    throw new TlsFileError(
      `${flags.cert}: ${certFile} is not a PEM certificate (${(error as Error).message})`,
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new TlsFileError(
      `${flags.key}: ${keyFile} is not a PEM private key (${(error as Error).message})`,
    );
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new TlsFileError(
      `${flags.key}: ${keyFile} is not the key of ${certFile} (${flags.cert}): pass the matching pair`,
    );
  }
  const now = Date.now();
  if (Date.parse(certificate.validTo) < now) {
    throw new TlsFileError(
      `${flags.cert}: ${certFile} expired on ${certificate.validTo}: renew it`,
    );
  }
  if (Date.parse(certificate.validFrom) > now) {
    throw new TlsFileError(
      `${flags.cert}: ${certFile} is not valid before ${certificate.validFrom}: check the clock`,
    );
  }
  return { cert, key, certificate };
}

/** A CA file (one certificate or a bundle), checked to hold at least one certificate. */
export function loadCaBundle(
  path: string,
  flag: string,
): { pem: Buffer; certs: X509Certificate[] } {
  const pem = readTlsFile(path, flag);
  const blocks =
    pem.toString("utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ??
    [];
  const certs: X509Certificate[] = [];
  for (const block of blocks) {
    try {
      certs.push(new X509Certificate(block));
    } catch (error) {
      throw new TlsFileError(
        `${flag}: ${path} holds a damaged certificate (${(error as Error).message})`,
      );
    }
  }
  if (certs.length === 0) throw new TlsFileError(`${flag}: ${path} holds no PEM certificate`);
  return { pem, certs };
}

/** Whether one of the CA certificates signed `certificate`. */
export function signedByOneOf(
  certificate: X509Certificate,
  cas: readonly X509Certificate[],
): boolean {
  return cas.some((ca) => certificate.checkIssued(ca) && certificate.verify(ca.publicKey));
}
