// A development certificate authority and one certificate per member, for mutual TLS between
// peers. Production deployments can bring their own PEM files with the same names.
import { webcrypto } from "node:crypto";

type CryptoKey = webcrypto.CryptoKey;

import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type * as X509 from "@peculiar/x509";
// @peculiar/x509 resolves its providers through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata";

type X509Module = typeof X509;
let x509Module: Promise<X509Module> | null = null;

/** Loaded lazily: only `qmesh certs` and `qmesh up` need it. */
function loadX509(): Promise<X509Module> {
  if (x509Module === null) {
    x509Module = import("@peculiar/x509").then((x509) => {
      x509.cryptoProvider.set(
        webcrypto as unknown as Parameters<X509Module["cryptoProvider"]["set"]>[0],
      );
      return x509;
    });
  }
  return x509Module;
}

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
const DAY_MS = 24 * 60 * 60 * 1000;
const CA_DAYS = 3650;
const MEMBER_DAYS = 365;
/** Member names become file names and DNS names: keep them to what both allow. */
export const MEMBER_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;

export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

interface Issuer {
  cert: X509.X509Certificate;
  key: CryptoKey;
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  // Backdated a little so a peer whose clock lags slightly still accepts the certificate.
  const now = Date.now();
  return { notBefore: new Date(now - 60 * 60 * 1000), notAfter: new Date(now + days * DAY_MS) };
}

function randomSerial(): string {
  // Positive (high bit clear) as DER INTEGER serials must be.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

async function exportKey(x509: X509Module, key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

function writePrivate(path: string, pem: string): void {
  writeFileSync(path, pem, { mode: 0o600 });
  // The mode option is filtered through umask; make sure the key is not group-readable.
  chmodSync(path, 0o600);
}

async function createCa(x509: X509Module, dir: string): Promise<Issuer> {
  const keys = await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: "CN=qmesh development CA",
    keys,
    signingAlgorithm: SIGNING,
    ...validity(CA_DAYS),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  writePrivate(join(dir, "ca.key"), await exportKey(x509, keys.privateKey));
  writeFileSync(join(dir, "ca.crt"), cert.toString("pem"));
  return { cert, key: keys.privateKey };
}

async function loadCa(x509: X509Module, dir: string): Promise<Issuer> {
  const cert = new x509.X509Certificate(readFileSync(join(dir, "ca.crt"), "utf8"));
  const der = x509.PemConverter.decodeFirst(readFileSync(join(dir, "ca.key"), "utf8"));
  const key = await webcrypto.subtle.importKey("pkcs8", der, EC, false, ["sign"]);
  return { cert, key };
}

async function createMember(
  x509: X509Module,
  dir: string,
  name: string,
  ca: Issuer,
): Promise<void> {
  const keys = await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${name}`,
    issuer: ca.cert.subject,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: SIGNING,
    ...validity(MEMBER_DAYS),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension([
        { type: "dns", value: name },
        { type: "dns", value: "localhost" },
        { type: "ip", value: "127.0.0.1" },
        { type: "ip", value: "::1" },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
    ],
  });
  writePrivate(join(dir, `${name}.key`), await exportKey(x509, keys.privateKey));
  writeFileSync(join(dir, `${name}.crt`), cert.toString("pem"));
}

/**
 * Writes ca.crt, ca.key, <name>.crt and <name>.key into `dir`. Existing files are kept, so a
 * second call only adds the members that are missing, signed by the existing CA.
 */
export async function createClusterCertificates(
  dir: string,
  memberNames: readonly string[],
): Promise<void> {
  for (const name of memberNames) {
    if (!MEMBER_NAME.test(name) || name === "ca") {
      throw new Error(
        `member name "${name}" cannot name a certificate (letters, digits, ".", "-")`,
      );
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const haveCa = existsSync(join(dir, "ca.crt")) && existsSync(join(dir, "ca.key"));
  if (!haveCa && (existsSync(join(dir, "ca.crt")) || existsSync(join(dir, "ca.key")))) {
    throw new Error(`${dir} has only half of the CA (ca.crt / ca.key): restore or remove it`);
  }
  const x509 = await loadX509();
  const ca = haveCa ? await loadCa(x509, dir) : await createCa(x509, dir);
  for (const name of memberNames) {
    if (existsSync(join(dir, `${name}.crt`)) && existsSync(join(dir, `${name}.key`))) continue;
    await createMember(x509, dir, name, ca);
  }
}

function readPem(dir: string, file: string): string {
  const path = join(dir, file);
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "is missing" : `cannot be read (${code ?? String(error)})`;
    throw new Error(
      `TLS file ${path} ${why}: create it with createClusterCertificates or copy it in`,
    );
  }
}

/** Reads the CA certificate and the member's certificate and key from `dir`. */
export function loadTlsMaterial(dir: string, name: string): TlsMaterial {
  return {
    ca: readPem(dir, "ca.crt"),
    cert: readPem(dir, `${name}.crt`),
    key: readPem(dir, `${name}.key`),
  };
}
