// A member's configuration: one record built from flags, environment or a config file, checked
// field by field so that a mistake is reported by the name the user typed.
import { createHash } from "node:crypto";
import { isAbsolute, resolve } from "node:path";
import type { NodeId } from "../raft/index.ts";
import { MEMBER_NAME } from "../transport/index.ts";

export interface InitialMember {
  readonly name: string;
  readonly peerUrl: string;
}

export interface NodeConfig {
  readonly name: string;
  readonly dataDir: string;
  readonly listenPeerUrl: string;
  readonly listenClientUrl: string;
  /** Empty: no metrics endpoint. */
  readonly listenMetricsUrl: string;
  readonly initialCluster: readonly InitialMember[];
  /** "new" bootstraps the initial cluster; "existing" joins one that already runs. */
  readonly initialClusterState: "new" | "existing";
  readonly initialClusterToken: string;
  /** Folder holding ca.crt, <name>.crt and <name>.key; empty with http:// peer URLs. */
  readonly certDir: string;
  readonly tickMs: number;
  readonly electionTicks: number;
  /** Applied entries between snapshots (etcd's --snapshot-count). */
  readonly snapshotCount: number;
  /** Entries kept behind a snapshot so slightly lagging followers catch up from the log. */
  readonly snapshotCatchUpEntries: number;
  readonly maxRequestBytes: number;
  readonly logLevel: "debug" | "info" | "warn" | "error";
  /** Accept fault-injection requests (delay, loss, partitions) on the client port: tests only. */
  readonly enableFaultInjection: boolean;
}

export const CONFIG_DEFAULTS = {
  listenMetricsUrl: "",
  initialClusterState: "new",
  initialClusterToken: "qmesh-cluster",
  certDir: "",
  tickMs: 100,
  electionTicks: 10,
  snapshotCount: 10_000,
  snapshotCatchUpEntries: 5_000,
  maxRequestBytes: 1.5 * 1024 * 1024,
  logLevel: "info",
  enableFaultInjection: false,
} as const;

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

export const CONFIG_FIELDS = [
  "name",
  "dataDir",
  "listenPeerUrl",
  "listenClientUrl",
  "listenMetricsUrl",
  "initialCluster",
  "initialClusterState",
  "initialClusterToken",
  "certDir",
  "tickMs",
  "electionTicks",
  "snapshotCount",
  "snapshotCatchUpEntries",
  "maxRequestBytes",
  "logLevel",
  "enableFaultInjection",
] as const;

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
  const listenPeerUrl = url(raw, "listenPeerUrl", ["http:", "https:"]);
  const initialCluster = parseInitialCluster(
    text(raw, "initialCluster", `${name}=${listenPeerUrl}`),
  );
  const self = initialCluster.find((member) => member.name === name);
  if (self === undefined) {
    throw new ConfigError(
      flagName("initialCluster"),
      `does not list this member "${name}"; add ${name}=${listenPeerUrl}`,
    );
  }
  const initialClusterState = text(raw, "initialClusterState", CONFIG_DEFAULTS.initialClusterState);
  if (initialClusterState !== "new" && initialClusterState !== "existing") {
    throw new ConfigError(
      flagName("initialClusterState"),
      `must be "new" or "existing", got "${initialClusterState}"`,
    );
  }
  const certDir = text(raw, "certDir", CONFIG_DEFAULTS.certDir);
  const secure = initialCluster.some((member) => member.peerUrl.startsWith("https:"));
  if (secure && certDir === "") {
    throw new ConfigError(
      flagName("certDir"),
      "https:// peer URLs need certificates: pass --cert-dir (create one with `qmesh certs`)",
    );
  }
  const tickMs = integer(raw, "tickMs", CONFIG_DEFAULTS.tickMs, 1, 10_000);
  const electionTicks = integer(raw, "electionTicks", CONFIG_DEFAULTS.electionTicks, 3, 1_000);
  const logLevel = text(raw, "logLevel", CONFIG_DEFAULTS.logLevel);
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    throw new ConfigError(flagName("logLevel"), `must be debug, info, warn or error`);
  }
  return {
    name,
    dataDir: absolute(text(raw, "dataDir", `${name}.qmesh`)),
    listenPeerUrl,
    listenClientUrl: url(raw, "listenClientUrl", ["http:"]),
    listenMetricsUrl:
      raw.listenMetricsUrl === undefined || raw.listenMetricsUrl === ""
        ? ""
        : url(raw, "listenMetricsUrl", ["http:"]),
    initialCluster,
    initialClusterState,
    initialClusterToken: text(raw, "initialClusterToken", CONFIG_DEFAULTS.initialClusterToken),
    certDir: certDir === "" ? "" : absolute(certDir),
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
    logLevel: logLevel as NodeConfig["logLevel"],
    enableFaultInjection: boolean(raw, "enableFaultInjection"),
  };
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

function boolean(raw: RawConfig, field: string): boolean {
  const value = raw[field];
  if (value === undefined || value === "" || value === false || value === "false") return false;
  if (value === true || value === "true") return true;
  throw new ConfigError(flagName(field), `must be true or false, got ${JSON.stringify(value)}`);
}

function url(raw: RawConfig, field: string, protocols: readonly string[]): string {
  const value = text(raw, field, undefined);
  if (!isUrl(value, protocols)) {
    throw new ConfigError(
      flagName(field),
      `"${value}" is not a ${protocols.join(" or ")}//host:port URL`,
    );
  }
  return value;
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
