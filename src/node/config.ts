// A member's configuration: one record built from flags, environment or a config file, checked
// field by field so that a mistake is reported by the name the user typed. The settings carry
// etcd's flag names wherever qmesh has the concept, so an etcd command line carries over.
import { createHash } from "node:crypto";
import { isAbsolute, resolve } from "node:path";
import type { NodeId } from "../raft/index.ts";
import { MEMBER_NAME } from "../transport/index.ts";
import { type AutoCompaction, parseAutoCompaction } from "./auto_compaction.ts";

export interface InitialMember {
  readonly name: string;
  readonly peerUrl: string;
}

/** PEM files for one side's TLS (etcd's --cert-file/--key-file/--trusted-ca-file, or --peer-*). */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** Empty: none given. */
  readonly trustedCaFile: string;
}

export interface ClientTlsFiles extends TlsFiles {
  /** etcd's --client-cert-auth: refuse clients without a certificate signed by the CA. */
  readonly clientCertAuth: boolean;
}

export interface NodeConfig {
  readonly name: string;
  readonly dataDir: string;
  /** The one peer URL this member binds (etcd's --listen-peer-urls). */
  readonly listenPeerUrl: string;
  /**
   * The one peer URL the others dial and the member id derives from (etcd's
   * --initial-advertise-peer-urls); differs from listenPeerUrl behind NAT or a proxy.
   */
  readonly advertisePeerUrl: string;
  readonly listenClientUrls: readonly string[];
  /** What the member publishes as its client URLs; the first is the one peers forward to. */
  readonly advertiseClientUrls: readonly string[];
  /** Empty: no metrics endpoint. */
  readonly listenMetricsUrls: readonly string[];
  readonly initialCluster: readonly InitialMember[];
  /** "new" bootstraps the initial cluster; "existing" joins one that already runs. */
  readonly initialClusterState: "new" | "existing";
  readonly initialClusterToken: string;
  /** Folder holding ca.crt, <name>.crt and <name>.key; empty when peerTls names the files. */
  readonly certDir: string;
  /** Explicit peer TLS files (--peer-cert-file, ...); null: none given (see certDir). */
  readonly peerTls: TlsFiles | null;
  /** Client port TLS files; null: none given (then client URLs must be http://). */
  readonly clientTls: ClientTlsFiles | null;
  /** Raft tick, from --heartbeat-interval (a heartbeat every tick). */
  readonly tickMs: number;
  /** --election-timeout in ticks (etcd divides the same way, rounding down). */
  readonly electionTicks: number;
  /** Applied entries between snapshots (etcd's --snapshot-count). */
  readonly snapshotCount: number;
  /** Entries kept behind a snapshot so slightly lagging followers catch up from the log. */
  readonly snapshotCatchUpEntries: number;
  readonly maxRequestBytes: number;
  /** Bytes of LMDB in use past which writes raise a NOSPACE alarm (etcd's --quota-backend-bytes). */
  readonly quotaBackendBytes: number;
  /** null: no automatic compaction (etcd's default retention "0"). */
  readonly autoCompaction: AutoCompaction | null;
  readonly logLevel: "debug" | "info" | "warn" | "error" | "fatal";
  /** Accept fault-injection requests (delay, loss, partitions) on the client port: tests only. */
  readonly enableFaultInjection: boolean;
  /** Record every applied entry in the Merkle ledger (off only to measure what it costs). */
  readonly ledger: boolean;
  /**
   * Before joining in, compare this member's history with its peers' at its own revision
   * (etcd's --experimental-initial-corrupt-check, on by default here).
   */
  readonly initialCorruptCheck: boolean;
  /**
   * Deliberate bugs, so that the fault-injection suite can show it catches them; only with
   * enableFaultInjection. "leaseReadsWithoutCheckQuorum": reads from the leader's lease with
   * CheckQuorum off (a deposed leader serves stale reads).
   */
  readonly unsafeTestingKnobs: readonly UnsafeTestingKnob[];
}

export const UNSAFE_TESTING_KNOBS = ["leaseReadsWithoutCheckQuorum"] as const;
export type UnsafeTestingKnob = (typeof UNSAFE_TESTING_KNOBS)[number];

export const CONFIG_DEFAULTS = {
  initialClusterState: "new",
  initialClusterToken: "qmesh-cluster",
  certDir: "",
  heartbeatInterval: 100,
  electionTimeout: 1000,
  snapshotCount: 10_000,
  snapshotCatchUpEntries: 5_000,
  maxRequestBytes: 1.5 * 1024 * 1024,
  // etcd's DefaultQuotaBytes.
  quotaBackendBytes: 2 * 1024 * 1024 * 1024,
  autoCompactionMode: "periodic",
  autoCompactionRetention: "0",
  logLevel: "info",
  enableFaultInjection: false,
  ledger: true,
  initialCorruptCheck: true,
} as const;

/** etcd's maxElectionMs: longer timeouts are refused. */
const MAX_ELECTION_TIMEOUT_MS = 50_000;

export class ConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "ConfigError";
  }
}

/** Everything a source (flags, env, file) may set, as text or numbers, before checking. */
export type RawConfig = Record<string, unknown>;

/** Setting names; each is a flag (flagName), a QMESH_ variable and a config-file key. */
export const CONFIG_FIELDS = [
  "name",
  "dataDir",
  "listenPeerUrls",
  "initialAdvertisePeerUrls",
  "listenClientUrls",
  "advertiseClientUrls",
  "listenMetricsUrls",
  "initialCluster",
  "initialClusterState",
  "initialClusterToken",
  "heartbeatInterval",
  "electionTimeout",
  "snapshotCount",
  "snapshotCatchUpEntries",
  "maxRequestBytes",
  "quotaBackendBytes",
  "autoCompactionMode",
  "autoCompactionRetention",
  "logLevel",
  "certFile",
  "keyFile",
  "trustedCaFile",
  "clientCertAuth",
  "certDir",
  "peerCertFile",
  "peerKeyFile",
  "peerTrustedCaFile",
  "peerClientCertAuth",
  "enableFaultInjection",
  "unsafeTestingKnobs",
  "ledger",
  "initialCorruptCheck",
] as const;

/** Settings that are on/off: as flags they may stand alone (`--client-cert-auth`), as in etcd. */
export const BOOLEAN_FIELDS: readonly (typeof CONFIG_FIELDS)[number][] = [
  "clientCertAuth",
  "peerClientCertAuth",
  "enableFaultInjection",
  "ledger",
  "initialCorruptCheck",
];

/** Field name as a flag, for messages: dataDir → --data-dir. */
export function flagName(field: string): string {
  return `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

export function parseNodeConfig(raw: RawConfig): NodeConfig {
  for (const key of Object.keys(raw)) {
    if (!(CONFIG_FIELDS as readonly string[]).includes(key)) {
      throw new ConfigError(key, `unknown setting; known settings: ${CONFIG_FIELDS.join(", ")}`);
    }
  }
  const name = text(raw, "name", undefined);
  if (!MEMBER_NAME.test(name)) {
    throw new ConfigError(
      flagName("name"),
      `"${name}" is not a valid member name (letters, digits, '-', '.'; at most 63)`,
    );
  }
  const { listenPeerUrl, advertisePeerUrl } = peerUrls(raw);
  const initialCluster = parseInitialCluster(
    text(raw, "initialCluster", `${name}=${advertisePeerUrl}`),
  );
  const self = initialCluster.find((member) => member.name === name);
  if (self === undefined) {
    throw new ConfigError(
      flagName("initialCluster"),
      `does not list this member "${name}"; add ${name}=${advertisePeerUrl}`,
    );
  }
  // The member's id derives from the advertised URL and the others' from this list: were they
  // to differ, the member would not find itself among the voters it bootstraps.
  if (self.peerUrl !== advertisePeerUrl) {
    throw new ConfigError(
      flagName("initialCluster"),
      `lists ${name}=${self.peerUrl} but this member advertises ${advertisePeerUrl} ` +
        "(--initial-advertise-peer-urls, default --listen-peer-urls): make them the same",
    );
  }
  const initialClusterState = text(raw, "initialClusterState", CONFIG_DEFAULTS.initialClusterState);
  if (initialClusterState !== "new" && initialClusterState !== "existing") {
    throw new ConfigError(
      flagName("initialClusterState"),
      `must be "new" or "existing", got "${initialClusterState}"`,
    );
  }
  const secure = initialCluster.some((member) => member.peerUrl.startsWith("https:"));
  const { certDir, peerTls } = peerTlsSettings(raw, secure);
  const listenClientUrls = urls(raw, "listenClientUrls", ["http:", "https:"], undefined);
  const clientTls = clientTlsSettings(raw, listenClientUrls);
  const { tickMs, electionTicks } = timing(raw);
  const logLevel = text(raw, "logLevel", CONFIG_DEFAULTS.logLevel);
  if (!["debug", "info", "warn", "error", "panic", "fatal"].includes(logLevel)) {
    throw new ConfigError(flagName("logLevel"), "must be debug, info, warn, error, panic or fatal");
  }
  return {
    name,
    dataDir: absolute(text(raw, "dataDir", `${name}.qmesh`)),
    listenPeerUrl,
    advertisePeerUrl,
    listenClientUrls,
    advertiseClientUrls: urls(raw, "advertiseClientUrls", ["http:", "https:"], listenClientUrls),
    listenMetricsUrls: urls(raw, "listenMetricsUrls", ["http:"], []),
    initialCluster,
    initialClusterState,
    initialClusterToken: text(raw, "initialClusterToken", CONFIG_DEFAULTS.initialClusterToken),
    certDir,
    peerTls,
    clientTls,
    tickMs,
    electionTicks,
    snapshotCount: integer(raw, "snapshotCount", CONFIG_DEFAULTS.snapshotCount, 1, 1e9),
    snapshotCatchUpEntries: integer(
      raw,
      "snapshotCatchUpEntries",
      CONFIG_DEFAULTS.snapshotCatchUpEntries,
      0,
      1e9,
    ),
    maxRequestBytes: integer(
      raw,
      "maxRequestBytes",
      CONFIG_DEFAULTS.maxRequestBytes,
      1024,
      // Below the peer frame limit (64 MiB) with room for the envelope and a batch.
      32 * 1024 * 1024,
    ),
    quotaBackendBytes: quota(raw),
    autoCompaction: autoCompaction(raw),
    logLevel: (logLevel === "panic" ? "fatal" : logLevel) as NodeConfig["logLevel"],
    enableFaultInjection: boolean(raw, "enableFaultInjection", false),
    ledger: boolean(raw, "ledger", true),
    initialCorruptCheck: boolean(raw, "initialCorruptCheck", true),
    unsafeTestingKnobs: testingKnobs(raw),
  };
}

/**
 * etcd's --listen-peer-urls and --initial-advertise-peer-urls, exactly one of each (qmesh has one
 * peer endpoint per member). The advertised one defaults to the listen one.
 */
function peerUrls(raw: RawConfig): { listenPeerUrl: string; advertisePeerUrl: string } {
  const listen = urls(raw, "listenPeerUrls", ["http:", "https:"], undefined);
  if (listen.length !== 1) {
    throw new ConfigError(
      flagName("listenPeerUrls"),
      `qmesh listens on exactly one peer URL, got ${listen.length} (${listen.join(", ")}): keep one`,
    );
  }
  const listenPeerUrl = listen[0]!;
  const advertised = urls(raw, "initialAdvertisePeerUrls", ["http:", "https:"], [listenPeerUrl]);
  if (advertised.length !== 1) {
    throw new ConfigError(
      flagName("initialAdvertisePeerUrls"),
      `qmesh advertises exactly one peer URL, got ${advertised.length} ` +
        `(${advertised.join(", ")}): keep one`,
    );
  }
  const advertisePeerUrl = advertised[0]!;
  const listenScheme = new URL(listenPeerUrl).protocol;
  const advertiseScheme = new URL(advertisePeerUrl).protocol;
  // Peers dial the advertised URL and land on the listener: TLS on one end only cannot work.
  if (advertiseScheme !== listenScheme) {
    throw new ConfigError(
      flagName("initialAdvertisePeerUrls"),
      `${advertisePeerUrl} is ${advertiseScheme}// but --listen-peer-urls ${listenPeerUrl} is ` +
        `${listenScheme}//: give both the same scheme`,
    );
  }
  return { listenPeerUrl, advertisePeerUrl };
}

/** --heartbeat-interval and --election-timeout as a tick and ticks, with etcd's checks. */
function timing(raw: RawConfig): { tickMs: number; electionTicks: number } {
  const tickMs = integer(raw, "heartbeatInterval", CONFIG_DEFAULTS.heartbeatInterval, 1, 10_000);
  const electionMs = integer(
    raw,
    "electionTimeout",
    CONFIG_DEFAULTS.electionTimeout,
    1,
    MAX_ELECTION_TIMEOUT_MS,
  );
  // etcd: "--election-timeout should be at least as 5 times as --heartbeat-interval".
  if (electionMs < 5 * tickMs) {
    throw new ConfigError(
      flagName("electionTimeout"),
      `${electionMs} ms must be at least 5 times --heartbeat-interval (${tickMs} ms), as in ` +
        `etcd: raise it to ${5 * tickMs} or lower --heartbeat-interval`,
    );
  }
  return { tickMs, electionTicks: Math.floor(electionMs / tickMs) };
}

/** Peer TLS from --cert-dir (qmesh's layout) or etcd's --peer-* files, never both. */
function peerTlsSettings(
  raw: RawConfig,
  secure: boolean,
): { certDir: string; peerTls: TlsFiles | null } {
  const certDir = text(raw, "certDir", CONFIG_DEFAULTS.certDir);
  const certFile = text(raw, "peerCertFile", "");
  const keyFile = text(raw, "peerKeyFile", "");
  const trustedCaFile = text(raw, "peerTrustedCaFile", "");
  const anyFile = certFile !== "" || keyFile !== "" || trustedCaFile !== "";
  if (!boolean(raw, "peerClientCertAuth", true)) {
    throw new ConfigError(
      flagName("peerClientCertAuth"),
      "qmesh always authenticates peers by certificate (mutual TLS): leave it out or set true",
    );
  }
  if (anyFile && certDir !== "") {
    throw new ConfigError(
      flagName("certDir"),
      "give either --cert-dir or --peer-cert-file/--peer-key-file/--peer-trusted-ca-file, not both",
    );
  }
  if (!secure) {
    if (anyFile) {
      throw new ConfigError(
        flagName(
          certFile !== "" ? "peerCertFile" : keyFile !== "" ? "peerKeyFile" : "peerTrustedCaFile",
        ),
        "peer TLS files need https:// peer URLs (--listen-peer-urls, --initial-cluster)",
      );
    }
    return { certDir: certDir === "" ? "" : absolute(certDir), peerTls: null };
  }
  if (!anyFile) {
    if (certDir === "") {
      throw new ConfigError(
        flagName("certDir"),
        "https:// peer URLs need certificates: pass --cert-dir (create one with `qmesh certs`) " +
          "or --peer-cert-file, --peer-key-file and --peer-trusted-ca-file",
      );
    }
    return { certDir: absolute(certDir), peerTls: null };
  }
  for (const [field, value] of [
    ["peerCertFile", certFile],
    ["peerKeyFile", keyFile],
    ["peerTrustedCaFile", trustedCaFile],
  ] as const) {
    if (value === "") {
      throw new ConfigError(
        flagName(field),
        "is required with the other --peer-* TLS files (qmesh verifies every peer against the CA)",
      );
    }
  }
  return {
    certDir: "",
    peerTls: {
      certFile: absolute(certFile),
      keyFile: absolute(keyFile),
      trustedCaFile: absolute(trustedCaFile),
    },
  };
}

/** Client port TLS: etcd's --cert-file, --key-file, --trusted-ca-file, --client-cert-auth. */
function clientTlsSettings(
  raw: RawConfig,
  listenClientUrls: readonly string[],
): ClientTlsFiles | null {
  const certFile = text(raw, "certFile", "");
  const keyFile = text(raw, "keyFile", "");
  const trustedCaFile = text(raw, "trustedCaFile", "");
  const clientCertAuth = boolean(raw, "clientCertAuth", false);
  const https = listenClientUrls.find((url) => url.startsWith("https:"));
  if (certFile === "" || keyFile === "") {
    if (https !== undefined) {
      throw new ConfigError(
        flagName(certFile === "" ? "certFile" : "keyFile"),
        `client URL ${https} is https:// and needs a certificate: pass --cert-file and --key-file`,
      );
    }
    if (certFile !== "" || keyFile !== "") {
      throw new ConfigError(
        flagName(certFile === "" ? "certFile" : "keyFile"),
        `is required with ${certFile === "" ? "--key-file" : "--cert-file"}`,
      );
    }
    if (clientCertAuth || trustedCaFile !== "") {
      throw new ConfigError(
        flagName(clientCertAuth ? "clientCertAuth" : "trustedCaFile"),
        "needs client TLS: pass --cert-file and --key-file and an https:// --listen-client-urls",
      );
    }
    return null;
  }
  if (clientCertAuth && trustedCaFile === "") {
    throw new ConfigError(
      flagName("clientCertAuth"),
      "needs --trusted-ca-file, the CA that signs client certificates",
    );
  }
  return {
    certFile: absolute(certFile),
    keyFile: absolute(keyFile),
    trustedCaFile: trustedCaFile === "" ? "" : absolute(trustedCaFile),
    clientCertAuth,
  };
}

/** etcd: 0 means the default quota (2 GiB), a negative value means no quota. */
function quota(raw: RawConfig): number {
  const value = raw.quotaBackendBytes;
  if (value === undefined || value === "") return CONFIG_DEFAULTS.quotaBackendBytes;
  const bytes = typeof value === "number" ? value : Number(value);
  if (!Number.isSafeInteger(bytes)) {
    throw new ConfigError(
      flagName("quotaBackendBytes"),
      `must be an integer number of bytes (0: the default 2 GiB, negative: no quota), got ${JSON.stringify(value)}`,
    );
  }
  if (bytes === 0) return CONFIG_DEFAULTS.quotaBackendBytes;
  return bytes < 0 ? Number.MAX_SAFE_INTEGER : bytes;
}

function autoCompaction(raw: RawConfig): AutoCompaction | null {
  const mode = text(raw, "autoCompactionMode", CONFIG_DEFAULTS.autoCompactionMode);
  if (mode !== "periodic" && mode !== "revision") {
    throw new ConfigError(
      flagName("autoCompactionMode"),
      `must be "periodic" or "revision", got "${mode}"`,
    );
  }
  const value = raw.autoCompactionRetention;
  const retention =
    typeof value === "number"
      ? String(value)
      : text(raw, "autoCompactionRetention", CONFIG_DEFAULTS.autoCompactionRetention);
  try {
    return parseAutoCompaction(mode, retention);
  } catch (error) {
    throw new ConfigError(flagName("autoCompactionRetention"), (error as Error).message);
  }
}

/** "n1=https://127.0.0.1:2380,n2=..." as etcd's --initial-cluster. */
export function parseInitialCluster(value: string): InitialMember[] {
  const members: InitialMember[] = [];
  for (const part of value.split(",")) {
    const at = part.indexOf("=");
    const name = part.slice(0, at).trim();
    const peerUrl = part.slice(at + 1).trim();
    if (at <= 0 || !isUrl(peerUrl, ["http:", "https:"])) {
      throw new ConfigError(
        flagName("initialCluster"),
        `"${part}" is not name=peer-url (example: n1=https://127.0.0.1:2380)`,
      );
    }
    if (members.some((member) => member.name === name)) {
      throw new ConfigError(flagName("initialCluster"), `lists "${name}" twice`);
    }
    members.push({ name, peerUrl });
  }
  return members;
}

/**
 * A member id from what makes the member unique, as etcd derives its ids: stable across
 * restarts, the same on every member, and different for a re-added member with a new URL.
 */
export function memberIdOf(name: string, peerUrl: string, clusterToken: string): NodeId {
  const digest = createHash("sha256").update(`${clusterToken}\0${name}\0${peerUrl}`).digest();
  // 48 bits: a safe integer, never zero.
  return digest.readUIntBE(0, 6) || 1;
}

/**
 * The cluster's id: from its token alone, so that members that join later (with a longer
 * --initial-cluster) compute the same id as the founders.
 */
export function clusterIdOf(token: string): string {
  return createHash("sha256").update(`qmesh-cluster\0${token}`).digest("hex").slice(0, 16);
}

function testingKnobs(raw: RawConfig): UnsafeTestingKnob[] {
  const names = text(raw, "unsafeTestingKnobs", "")
    .split(",")
    .filter((name) => name !== "");
  for (const name of names) {
    if (!(UNSAFE_TESTING_KNOBS as readonly string[]).includes(name)) {
      throw new ConfigError(
        flagName("unsafeTestingKnobs"),
        `unknown knob "${name}"; known: ${UNSAFE_TESTING_KNOBS.join(", ")}`,
      );
    }
  }
  if (names.length > 0 && !boolean(raw, "enableFaultInjection", false)) {
    throw new ConfigError(
      flagName("unsafeTestingKnobs"),
      "breaks consistency on purpose and is for tests only: it needs --enable-fault-injection true",
    );
  }
  return names as UnsafeTestingKnob[];
}

function text(raw: RawConfig, field: string, fallback: string | undefined): string {
  const value = raw[field];
  if (value === undefined || value === "") {
    if (fallback === undefined) throw new ConfigError(flagName(field), "is required");
    return fallback;
  }
  if (typeof value !== "string") {
    throw new ConfigError(flagName(field), `must be text, got ${JSON.stringify(value)}`);
  }
  return value;
}

function integer(raw: RawConfig, field: string, fallback: number, min: number, max: number) {
  const value = raw[field];
  if (value === undefined || value === "") return fallback;
  const number = typeof value === "number" ? value : Number(value);
  if (!Number.isInteger(number) || number < min || number > max) {
    throw new ConfigError(
      flagName(field),
      `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return number;
}

function boolean(raw: RawConfig, field: string, fallback: boolean): boolean {
  const value = raw[field];
  if (value === undefined || value === "") return fallback;
  if (value === false || value === "false") return false;
  if (value === true || value === "true") return true;
  throw new ConfigError(flagName(field), `must be true or false, got ${JSON.stringify(value)}`);
}

/** A comma-separated list (flags, environment) or an array (config file) of URLs. */
function urls(
  raw: RawConfig,
  field: string,
  protocols: readonly string[],
  fallback: readonly string[] | undefined,
): string[] {
  const value = raw[field];
  if (value === undefined || value === "" || (Array.isArray(value) && value.length === 0)) {
    if (fallback === undefined) throw new ConfigError(flagName(field), "is required");
    return [...fallback];
  }
  const list = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : null;
  if (list === null || list.some((item) => typeof item !== "string")) {
    throw new ConfigError(
      flagName(field),
      `must be URLs separated by commas, got ${JSON.stringify(value)}`,
    );
  }
  const result = (list as string[]).map((item) => item.trim());
  for (const item of result) {
    if (!isUrl(item, protocols)) {
      throw new ConfigError(
        flagName(field),
        `"${item}" is not a ${protocols.join(" or ")}//host:port URL`,
      );
    }
  }
  if (new Set(result).size !== result.length) {
    throw new ConfigError(flagName(field), `lists a URL twice: ${result.join(",")}`);
  }
  return result;
}

function isUrl(value: string, protocols: readonly string[]): boolean {
  try {
    const parsed = new URL(value);
    return protocols.includes(parsed.protocol) && parsed.port !== "" && parsed.hostname !== "";
  } catch {
    return false;
  }
}

function absolute(path: string): string {
  return isAbsolute(path) ? path : resolve(path);
}
