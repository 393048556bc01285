// The client port's TLS from etcd's flags (--cert-file, --key-file, --trusted-ca-file,
// --client-cert-auth), in the shape the client API serves with.
import type { ClientTlsFiles } from "./config.ts";
import { loadCaBundle, loadCertificatePair } from "./tls_files.ts";

/** The client API's ClientTls (src/api/client_port.ts), built here from files. */
export interface ClientTlsMaterial {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly ca?: Buffer;
  readonly requestCert: boolean;
}

/** Reads and checks the files; throws a TlsFileError naming the flag and the file. */
export function loadClientTls(files: ClientTlsFiles): ClientTlsMaterial {
  const { cert, key } = loadCertificatePair(files.certFile, files.keyFile, {
    cert: "--cert-file",
    key: "--key-file",
  });
  if (files.trustedCaFile === "") return { cert, key, requestCert: false };
  const ca = loadCaBundle(files.trustedCaFile, "--trusted-ca-file").pem;
  return { cert, key, ca, requestCert: files.clientCertAuth };
}
