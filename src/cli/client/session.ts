// Connection flags shared by every client command (etcdctl's globals) and the session built from
// them: endpoints tried in order while they are unreachable, TLS, the auth token, a deadline.
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { type Command, CommanderError, Option } from "commander";
import { connectEtcd, type EtcdClient, type ServiceName } from "../../api/grpc/client.ts";
import type { WriteOut } from "./output.ts";

export const DEFAULT_ENDPOINTS = "127.0.0.1:2379";

export interface ConnectionFlags {
  endpoints: string;
  cacert?: string;
  cert?: string;
  key?: string;
  user?: string;
  commandTimeout: string;
  writeOut: WriteOut;
}

/** Adds the connection flags to a client command. */
export function withConnectionFlags(command: Command): Command {
  return command
    .addOption(
      new Option("--endpoints <list>", "client URLs or host:port, comma separated").default(
        DEFAULT_ENDPOINTS,
      ),
    )
    .option("--cacert <file>", "verify the members' TLS certificates with this CA bundle")
    .option("--cert <file>", "this client's TLS certificate (for client-certificate auth)")
    .option("--key <file>", "this client's TLS key")
    .option("--user <name:password>", "authenticate as this user")
    .option("--command-timeout <duration>", "deadline of each request (5s, 500ms)", "5s")
    .addOption(
      new Option("-w, --write-out <format>", "output format")
        .choices(["simple", "json"])
        .default("simple"),
    );
}

export function usageError(message: string): CommanderError {
  return new CommanderError(2, "qmesh.usage", message);
}

export function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (match === null)
    throw usageError(`--command-timeout must look like 5s or 500ms, got "${text}"`);
  const scale = { ms: 1, s: 1000, m: 60_000 }[(match[2] ?? "s") as "ms" | "s" | "m"];
  return Number(match[1]) * scale;
}

const UNREACHABLE = new Set([grpc.status.UNAVAILABLE]);

/** A gRPC error as etcd's message (the status details), or the error's own message. */
export function requestError(error: unknown): CommanderError {
  if (error instanceof CommanderError) return error;
  const details = (error as grpc.ServiceError).details;
  const message =
    typeof details === "string" && details !== "" ? details : (error as Error).message;
  return new CommanderError(1, "qmesh.request", message);
}

/** Runs a client command's work with a session from its flags, closing it after. */
export function clientAction<A extends unknown[]>(
  work: (session: Session, ...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    // Commander passes the positional arguments, then the options, then the command.
    const flags = args[args.length - 2] as ConnectionFlags;
    const session = new Session(flags);
    try {
      await work(session, ...args);
    } catch (error) {
      throw requestError(error);
    } finally {
      session.close();
    }
  };
}

export class Session {
  readonly endpoints: string[];
  readonly timeoutMs: number;
  private readonly tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined;
  private readonly user: { name: string; password: string } | undefined;
  private readonly flags: ConnectionFlags;
  private index = 0;
  private client: EtcdClient | undefined;
  private metadata: grpc.Metadata | undefined;

  constructor(flags: ConnectionFlags) {
    this.flags = flags;
    this.endpoints = flags.endpoints
      .split(",")
      .map((endpoint) => endpoint.trim())
      .filter((endpoint) => endpoint !== "");
    if (this.endpoints.length === 0) throw usageError("--endpoints is empty");
    this.timeoutMs = parseDurationMs(flags.commandTimeout);
    this.tls = readTls(flags);
    this.user = parseUser(flags.user);
  }

  get endpoint(): string {
    return this.endpoints[this.index]!;
  }

  /** One unary call; on an unreachable endpoint the next one is tried. */
  async call(service: ServiceName, method: string, request: object): Promise<any> {
    const failures: string[] = [];
    for (; this.index < this.endpoints.length; this.index++) {
      try {
        const client = await this.connected();
        return await client.call(service, method, request, this.metadata);
      } catch (error) {
        if (!UNREACHABLE.has((error as grpc.ServiceError).code)) throw requestError(error);
        failures.push(`${this.endpoint}: ${connectFailure(error)}`);
        this.drop();
      }
    }
    throw unreachable(failures);
  }

  /** The raw client of the first endpoint that accepts a connection, with the call metadata. */
  async stream(service: ServiceName): Promise<{ client: any; metadata: grpc.Metadata }> {
    const failures: string[] = [];
    for (; this.index < this.endpoints.length; this.index++) {
      try {
        const client = await this.connected();
        const raw = client.raw(service);
        await new Promise<void>((resolve, reject) =>
          raw.waitForReady(Date.now() + this.timeoutMs, (error?: Error) =>
            error === undefined ? resolve() : reject(error),
          ),
        );
        return { client: raw, metadata: this.metadata ?? new grpc.Metadata() };
      } catch (error) {
        const code = (error as grpc.ServiceError).code;
        if (code !== undefined && !UNREACHABLE.has(code)) throw requestError(error);
        failures.push(`${this.endpoint}: ${connectFailure(error)}`);
        this.drop();
      }
    }
    throw unreachable(failures);
  }

  /** A session on one endpoint alone (endpoint status / health ask each member). */
  only(endpoint: string): Session {
    return new Session({ ...this.flags, endpoints: endpoint });
  }

  close(): void {
    this.drop();
  }

  private async connected(): Promise<EtcdClient> {
    if (this.client !== undefined) return this.client;
    const options = {
      timeoutMs: this.timeoutMs,
      ...(this.tls === undefined ? {} : { tls: this.tls }),
    };
    this.client = connectEtcd(this.endpoint, options);
    if (this.user !== undefined) {
      const { token } = await this.client.call("Auth", "Authenticate", this.user);
      this.metadata = new grpc.Metadata();
      this.metadata.set("token", token);
    }
    return this.client;
  }

  private drop(): void {
    this.client?.close();
    this.client = undefined;
    this.metadata = undefined;
  }
}

/** grpc-js's "No connection established. Last error: ..." trimmed to the cause. */
function connectFailure(error: unknown): string {
  const message = requestError(error).message;
  const cause = /Last error: (?:Error: )?(.*?)(?:\. Resolution note:.*)?$/s.exec(message);
  return cause === null ? message : cause[1]!;
}

function unreachable(failures: readonly string[]): CommanderError {
  return new CommanderError(
    1,
    "qmesh.unreachable",
    `no endpoint answered (${failures.join("; ")}); is the cluster up (\`qmesh up\`), and do --endpoints name its client URLs?`,
  );
}

function readTls(flags: ConnectionFlags): { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined {
  if (flags.cacert === undefined && flags.cert === undefined && flags.key === undefined)
    return undefined;
  if ((flags.cert === undefined) !== (flags.key === undefined))
    throw usageError("--cert and --key go together");
  const read = (flag: string, path: string | undefined) => {
    if (path === undefined) return {};
    try {
      return { [flag]: readFileSync(path) };
    } catch (error) {
      throw usageError(`cannot read ${path}: ${(error as Error).message}`);
    }
  };
  return { ...read("ca", flags.cacert), ...read("cert", flags.cert), ...read("key", flags.key) };
}

function parseUser(user: string | undefined): { name: string; password: string } | undefined {
  if (user === undefined) return undefined;
  const colon = user.indexOf(":");
  if (colon <= 0) throw usageError(`--user must be name:password, got "${user}"`);
  return { name: user.slice(0, colon), password: user.slice(colon + 1) };
}
