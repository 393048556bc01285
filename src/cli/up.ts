// `qmesh up`: a local cluster on loopback, one process per member, certificates and data under
// ./.qmesh (made the first time, reused after). Ctrl-C stops every member cleanly.
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Command, CommanderError } from "commander";
import { createClusterCertificates } from "../transport/index.ts";

const BIN = fileURLToPath(new URL("../../bin/qmesh", import.meta.url));
const MAX_NODES = 9;
const STARTUP_TIMEOUT_MS = 30_000;

export interface LocalMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly metricsUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
}

interface ClusterFile {
  readonly token: string;
  readonly nodes: number;
  readonly basePort: number;
}

/** Ports of member i (from 1): base+10(i-1) for clients, +1 for peers, +2 for metrics. */
export function localMembers(dir: string, nodes: number, basePort: number): LocalMember[] {
  return Array.from({ length: nodes }, (_, i) => {
    const port = basePort + 10 * i;
    const name = `n${i + 1}`;
    return {
      name,
      clientUrl: `http://127.0.0.1:${port}`,
      peerUrl: `https://127.0.0.1:${port + 1}`,
      metricsUrl: `http://127.0.0.1:${port + 2}`,
      dataDir: join(dir, name),
      logFile: join(dir, `${name}.log`),
    };
  });
}

export function addUpCommand(program: Command): void {
  program
    .command("up")
    .description("start a local cluster on 127.0.0.1 (data and certificates in ./.qmesh)")
    .option("--nodes <n>", "members in the cluster", "3")
    .option("--dir <path>", "where data, certificates and logs live", ".qmesh")
    .option(
      "--base-port <port>",
      "first member's client port (peers +1, metrics +2; +10 per member)",
      "2379",
    )
    .action(async (options: { nodes: string; dir: string; basePort: string }) => {
      const nodes = Number(options.nodes);
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) {
        throw new CommanderError(
          2,
          "qmesh.nodes",
          `--nodes must be an integer from 1 to ${MAX_NODES}, got "${options.nodes}"`,
        );
      }
      const basePort = Number(options.basePort);
      if (!Number.isInteger(basePort) || basePort < 1024 || basePort + 10 * nodes > 65535) {
        throw new CommanderError(
          2,
          "qmesh.basePort",
          `--base-port must leave room for ${nodes} members below 65536, got "${options.basePort}"`,
        );
      }
      await runLocalCluster(resolve(options.dir), nodes, basePort);
    });
}

function loadOrCreateCluster(dir: string, nodes: number, basePort: number): ClusterFile {
  const file = join(dir, "cluster.json");
  if (existsSync(file)) {
    let found: ClusterFile;
    try {
      found = JSON.parse(readFileSync(file, "utf8")) as ClusterFile;
    } catch (error) {
      throw new CommanderError(
        1,
        "qmesh.existing",
        `${file} is unreadable (${(error as Error).message}): remove ${dir} to start afresh`,
      );
    }
    if (found.nodes !== nodes || found.basePort !== basePort) {
      throw new CommanderError(
        1,
        "qmesh.existing",
        `${dir} holds a ${found.nodes}-member cluster on base port ${found.basePort}: run ` +
          `\`qmesh up --nodes ${found.nodes} --base-port ${found.basePort}\`, or remove ${dir} to start afresh`,
      );
    }
    return found;
  }
  mkdirSync(dir, { recursive: true });
  const cluster = { token: `qmesh-${randomBytes(6).toString("hex")}`, nodes, basePort };
  writeFileSync(file, `${JSON.stringify(cluster, null, 2)}\n`);
  return cluster;
}

async function runLocalCluster(dir: string, nodes: number, basePort: number): Promise<void> {
  const cluster = loadOrCreateCluster(dir, nodes, basePort);
  const members = localMembers(dir, nodes, basePort);
  const certDir = join(dir, "certs");
  await createClusterCertificates(
    certDir,
    members.map((m) => m.name),
  );
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
  const children = new Map<string, ChildProcess>();
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await Promise.all([...children.values()].map((child) => stopChild(child)));
    process.exit(code);
  };
  process.on("SIGINT", () => {
    process.stdout.write("\nstopping the cluster...\n");
    void stopAll(0);
  });
  process.on("SIGTERM", () => void stopAll(0));

  const started = members.map((member) => {
    const log = openSync(member.logFile, "a");
    const child = fork(
      BIN,
      [
        "start",
        "--name",
        member.name,
        "--data-dir",
        member.dataDir,
        "--listen-peer-urls",
        member.peerUrl,
        "--listen-client-urls",
        member.clientUrl,
        "--listen-metrics-urls",
        member.metricsUrl,
        "--initial-cluster",
        initialCluster,
        "--initial-cluster-token",
        cluster.token,
        "--cert-dir",
        certDir,
      ],
      { stdio: ["ignore", log, log, "ipc"] },
    );
    children.set(member.name, child);
    return waitStarted(member, child);
  });
  const failures = (await Promise.allSettled(started)).flatMap((r) =>
    r.status === "rejected" ? [(r.reason as Error).message] : [],
  );
  if (failures.length > 0) {
    for (const failure of failures) process.stderr.write(`qmesh: ${failure}\n`);
    await stopAll(1);
    return;
  }
  for (const child of children.values()) {
    child.on("exit", (code, signal) => {
      if (stopping) return;
      const name = [...children].find(([, c]) => c === child)?.[0];
      process.stderr.write(
        `qmesh: member ${name} exited (${signal ?? `code ${code}`}); see its log in ${dir}\n`,
      );
    });
  }
  printEndpoints(dir, members);
}

function printEndpoints(dir: string, members: readonly LocalMember[]): void {
  const lines = [
    `qmesh: ${members.length}-member cluster running (data, certificates and logs in ${dir})`,
    "",
    "  member  client (etcd v3 gRPC)   peer (TLS 1.3)            metrics",
    ...members.map(
      (m) =>
        `  ${m.name.padEnd(6)}  ${m.clientUrl.padEnd(22)}  ${m.peerUrl.padEnd(24)}  ${m.metricsUrl}/metrics`,
    ),
    "",
    `  try:  bin/qmesh put greeting hello --endpoints ${members[0]!.clientUrl}`,
    `        bin/qmesh get greeting --endpoints ${members.map((m) => m.clientUrl).join(",")}`,
    "",
    "Ctrl-C stops every member; `qmesh up` again restarts them with their data.",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

function waitStarted(member: LocalMember, child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `${member.name} did not start within ${STARTUP_TIMEOUT_MS / 1000} s; see ${member.logFile}`,
          ),
        ),
      STARTUP_TIMEOUT_MS,
    );
    child.on("message", (message: { type?: string; message?: string }) => {
      if (message.type === "started") {
        clearTimeout(timer);
        resolve();
      } else if (message.type === "failed") {
        clearTimeout(timer);
        reject(new Error(`${member.name}: ${message.message}`));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(
        new Error(`${member.name} exited during startup (code ${code}); see ${member.logFile}`),
      );
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
