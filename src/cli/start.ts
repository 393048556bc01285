// `qmesh start`: one member from flags, environment (QMESH_<FLAG>) or a JSON config file, in
// that order of precedence. Startup problems print one line naming what is wrong and exit 1.
import { readFileSync } from "node:fs";
import { type Command, CommanderError } from "commander";
import { pino } from "pino";
import { startClientApi } from "../api/index.ts";
import { loadClientTls } from "../node/client_tls.ts";
import {
  BOOLEAN_FIELDS,
  CONFIG_FIELDS,
  ConfigError,
  flagName,
  type NodeConfig,
  parseNodeConfig,
  type RawConfig,
} from "../node/config.ts";
import { QmeshNode } from "../node/node.ts";
import { startStatusServer } from "../node/status_server.ts";

const FLAG_HELP: Record<(typeof CONFIG_FIELDS)[number], string> = {
  name: "member name, unique in the cluster (required)",
  dataDir: "data directory (default: ./<name>.qmesh)",
  listenPeerUrls:
    "the one URL to listen on for peers: https:// (TLS 1.3, mutual auth) or http:// (plain, only when asked)",
  initialAdvertisePeerUrls:
    "the one peer URL other members dial, in --initial-cluster (default: --listen-peer-urls; same scheme)",
  listenClientUrls:
    "URLs for clients (etcd v3 gRPC and JSON), comma-separated; https:// needs --cert-file",
  advertiseClientUrls: "client URLs published to the cluster (default: --listen-client-urls)",
  listenMetricsUrls: "URLs for /metrics, /healthz and /readyz, comma-separated (default: none)",
  initialCluster: "initial members as name=peer-url,... (default: this member alone)",
  initialClusterState: '"new" to bootstrap, "existing" to join a running cluster',
  initialClusterToken: "cluster token; members of one cluster share it",
  heartbeatInterval: "heartbeat interval (the Raft tick) in ms (default 100)",
  electionTimeout: "election timeout in ms, at least 5 heartbeats (default 1000)",
  snapshotCount: "applied entries between snapshots",
  snapshotCatchUpEntries: "entries kept behind a snapshot for slow followers (qmesh)",
  maxRequestBytes: "largest request accepted, in bytes",
  quotaBackendBytes: "bytes of store in use past which writes raise a NOSPACE alarm (0: 2 GiB)",
  autoCompactionMode: '"periodic" (retention is a period) or "revision" (retention is a count)',
  autoCompactionRetention:
    'history to keep: periodic "1h", "30m" or hours ("1"); revision: revisions; "0": off',
  logLevel: "debug, info, warn, error, panic or fatal",
  certFile: "client port certificate (PEM)",
  keyFile: "client port private key (PEM)",
  trustedCaFile: "CA for client certificates (PEM)",
  clientCertAuth: "refuse clients without a certificate signed by --trusted-ca-file",
  certDir: "folder with ca.crt, <name>.crt and <name>.key for peer TLS (see `qmesh certs`)",
  peerCertFile: "peer certificate (PEM; its CN must be the member name)",
  peerKeyFile: "peer private key (PEM)",
  peerTrustedCaFile: "CA that signs every member's peer certificate (PEM)",
  peerClientCertAuth: "accepted for etcd's sake: qmesh always authenticates peers",
  enableFaultInjection: "accept POST /qmesh/v1/fault (delay, loss, partitions) — tests only",
  ledger:
    "record every applied entry in the signed Merkle ledger (default true; false only to measure its cost, and for the data directory's whole life)",
  initialCorruptCheck:
    "at start, compare this member's history with its peers' and raise CORRUPT if a quorum of them holds another (default true)",
  unsafeTestingKnobs:
    "deliberate bugs for the fault suite's self-check (leaseReadsWithoutCheckQuorum); needs --enable-fault-injection",
};

export function addStartCommand(program: Command): void {
  const command = program
    .command("start")
    .description("run one qmesh member (see `qmesh up` for a local cluster)")
    .option("--config <file>", "JSON file with settings (keys as the flags in camelCase)");
  for (const field of CONFIG_FIELDS) {
    // On/off flags may stand alone, as etcd's do: `--client-cert-auth`.
    const value = BOOLEAN_FIELDS.includes(field) ? "[true|false]" : "<value>";
    command.option(`${flagName(field)} ${value}`, FLAG_HELP[field]);
  }
  command.action(async (options: Record<string, string | boolean | undefined>) => {
    let config: NodeConfig;
    try {
      config = parseNodeConfig(gatherSettings(options, process.env));
    } catch (error) {
      if (error instanceof ConfigError) throw new CommanderError(2, "qmesh.config", error.message);
      throw error;
    }
    await runMember(config);
  });
}

/** Flags over environment over file. */
export function gatherSettings(
  options: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
): RawConfig {
  let settings: RawConfig = {};
  if (typeof options.config === "string") settings = readConfigFile(options.config);
  for (const field of CONFIG_FIELDS) {
    const envName = `QMESH_${flagName(field).slice(2).replace(/-/g, "_").toUpperCase()}`;
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv !== "") settings[field] = fromEnv;
    const fromFlag = options[field];
    if (fromFlag !== undefined) settings[field] = fromFlag;
  }
  return settings;
}

function readConfigFile(path: string): RawConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError("--config", `cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new Error("not an object");
    return value as RawConfig;
  } catch (error) {
    throw new ConfigError("--config", `${path} is not a JSON object: ${(error as Error).message}`);
  }
}

async function runMember(config: NodeConfig): Promise<void> {
  const logger = pino({ level: config.logLevel, base: { member: config.name } });
  let node: QmeshNode;
  const servers: { close(): unknown }[] = [];
  const fatal = (error: Error) => {
    logger.error(error.message);
    process.stderr.write(`qmesh: ${config.name}: ${error.message}\n`);
    process.exit(1);
  };
  try {
    // Before the node starts: a bad certificate must not leave a claimed data directory.
    const clientTls = config.clientTls === null ? null : loadClientTls(config.clientTls);
    node = await QmeshNode.start(config, logger, fatal);
    servers.push(await startClientApi(node, config.listenClientUrls, clientTls));
    for (const url of config.listenMetricsUrls) servers.push(await startStatusServer(node, url));
  } catch (error) {
    process.send?.({ type: "failed", message: (error as Error).message });
    process.stderr.write(`qmesh: ${config.name}: ${(error as Error).message}\n`);
    process.exit(1);
  }
  logger.info(`clients on ${config.listenClientUrls.join(", ")}`);
  process.send?.({ type: "started", name: config.name });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: stopping`);
    for (const server of servers) await server.close();
    await node.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  // `qmesh up` going away (even by kill -9) must not leave members behind.
  process.on("disconnect", () => void stop("parent exited"));
}
