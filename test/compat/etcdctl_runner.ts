// Runs Debian's etcdctl 3.4 (API v3) as a child process: one command to completion, or a
// long-running one (watch, keep-alive) for a bounded time, collecting what it printed.
import { spawn } from "node:child_process";
import { ETCDCTL_BIN } from "./etcd_reference.ts";

export interface CtlResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CtlOptions {
  readonly stdin?: string;
  /** Kill the command after this long and return what it printed (for watch). */
  readonly runForMs?: number;
  /** While the command runs (after `startDelayMs`), do this; it is killed when it resolves. */
  readonly during?: () => Promise<void>;
  readonly startDelayMs?: number;
  readonly timeoutMs?: number;
}

export function etcdctl(
  endpoints: readonly string[],
  args: readonly string[],
  options: CtlOptions = {},
): Promise<CtlResult> {
  const child = spawn(
    ETCDCTL_BIN,
    [`--endpoints=${endpoints.join(",")}`, "--dial-timeout=3s", "--command-timeout=5s", ...args],
    { env: { ...process.env, ETCDCTL_API: "3" }, stdio: ["pipe", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(options.stdin ?? "");
  const exited = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  const limit = options.timeoutMs ?? 15_000;
  const killer = setTimeout(() => child.kill("SIGKILL"), limit);
  const bounded = (async () => {
    if (options.during !== undefined) {
      await new Promise((r) => setTimeout(r, options.startDelayMs ?? 700));
      await options.during();
    }
    if (options.runForMs !== undefined) {
      await new Promise((r) => setTimeout(r, options.runForMs));
      child.kill("SIGTERM");
    }
  })();
  return Promise.all([exited, bounded]).then(([code]) => {
    clearTimeout(killer);
    return { code: options.runForMs !== undefined ? 0 : code, stdout, stderr };
  });
}

/** JSON.parse that keeps 64-bit integers (member, cluster and lease ids) exact, as strings. */
export function parseJsonExact(text: string): unknown {
  return JSON.parse(text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"$2"'));
}

export const hex = (decimal: string | number | bigint) => BigInt(decimal).toString(16);
