// The peer transport's TLS material: qmesh's --cert-dir layout, or etcd's --peer-cert-file,
// --peer-key-file and --peer-trusted-ca-file. Checked before the member listens.
import { loadTlsMaterial, type TlsMaterial } from "../transport/index.ts";
import type { NodeConfig } from "./config.ts";
import { checkMemberCertificate } from "./tls_check.ts";
import { loadCaBundle, loadCertificatePair, signedByOneOf, TlsFileError } from "./tls_files.ts";

export function loadPeerTls(config: NodeConfig): TlsMaterial {
  const files = config.peerTls;
  if (files === null) {
    const material = loadTlsMaterial(config.certDir, config.name);
    checkMemberCertificate(material, config.name, config.certDir);
    return material;
  }
  const pair = loadCertificatePair(files.certFile, files.keyFile, {
    cert: "--peer-cert-file",
    key: "--peer-key-file",
  });
  const ca = loadCaBundle(files.trustedCaFile, "--peer-trusted-ca-file");
  // Peers tell members apart by the certificate's CN (the CA signs them all).
  const commonName = /(?:^|\n)CN=([^\n]*)/.exec(pair.certificate.subject)?.[1];
  if (commonName !== config.name) {
    throw new TlsFileError(
      `--peer-cert-file: ${files.certFile} is issued to CN "${commonName}"; qmesh peers identify ` +
        `a member by its certificate's CN, which must be the member name "${config.name}"`,
    );
  }
  if (!signedByOneOf(pair.certificate, ca.certs)) {
    throw new TlsFileError(
      `--peer-cert-file: ${files.certFile} is not signed by ${files.trustedCaFile} ` +
        "(--peer-trusted-ca-file): peers would refuse it",
    );
  }
  return {
    ca: ca.pem.toString("utf8"),
    cert: pair.cert.toString("utf8"),
    key: pair.key.toString("utf8"),
  };
}
