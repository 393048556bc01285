// `qmesh start`: one member from flags, environment (QMESH_<FLAG>) or a JSON config file, in
// that order of precedence. Startup problems print one line naming what is wrong and exit 1.
import { readFileSync } from "node:fs";
import { type Command, CommanderError } from "commander";
import { pino } from "pino";
import { startClientApi } from "../api/index.ts";
import {
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
  listenPeerUrl:
    "URL for peer traffic: https:// (TLS 1.3, mutual auth) or http:// (plain, only when asked)",
  listenClientUrl: "URL for clients (etcd v3 JSON API)",
  listenMetricsUrl: "URL for /metrics, /healthz and /readyz (default: none)",
  initialCluster: "initial members as name=peer-url,... (default: this member alone)",
  initialClusterState: '"new" to bootstrap, "existing" to join a running cluster',
  initialClusterToken: "cluster token; members of one cluster share it",
  certDir: "folder with ca.crt, <name>.crt and <name>.key (see `qmesh certs`)",
  tickMs: "Raft tick in milliseconds (heartbeat interval)",
  electionTicks: "ticks without a leader before an election",
  snapshotCount: "applied entries between snapshots",
  snapshotCatchUpEntries: "entries kept behind a snapshot for slow followers",
  maxRequestBytes: "largest request accepted, in bytes",
  logLevel: "debug, info, warn or error",
  enableFaultInjection: "true: accept POST /qmesh/v1/fault (delay, loss, partitions) — tests only",
};

export function addStartCommand(program: Command): void {
  const command = program
    .command("start")
    .description("run one qmesh member (see `qmesh up` for a local cluster)")
    .option("--config <file>", "JSON file with settings (keys as the flags in camelCase)");
  for (const field of CONFIG_FIELDS) {
    command.option(`${flagName(field)} <value>`, FLAG_HELP[field]);
  }
  command.action(async (options: Record<string, string | undefined>) => {
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
  options: Record<string, string | undefined>,
  env: NodeJS.ProcessEnv,
): RawConfig {
  let settings: RawConfig = {};
  if (options.config !== undefined) settings = readConfigFile(options.config);
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
    node = await QmeshNode.start(config, logger, fatal);
    servers.push(await startClientApi(node, [config.listenClientUrl], null));
    if (config.listenMetricsUrl !== "")
      servers.push(await startStatusServer(node, config.listenMetricsUrl));
  } catch (error) {
    process.send?.({ type: "failed", message: (error as Error).message });
    process.stderr.write(`qmesh: ${config.name}: ${(error as Error).message}\n`);
    process.exit(1);
  }
  logger.info(`clients on ${config.listenClientUrl}`);
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
