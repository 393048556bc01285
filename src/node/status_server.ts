// The operator's window on a member: Prometheus /metrics, /healthz (the process answers) and
// /readyz (it knows a leader, has applied what it knows committed, and its disk has room).
import { createServer, type Server } from "node:http";
import type { QmeshNode } from "./node.ts";

/** Ready when a leader is known and apply is within this many entries of commit. */
const READY_MAX_APPLY_LAG = 1_000;

export async function startStatusServer(node: QmeshNode, url: string): Promise<Server> {
  const { hostname, port } = new URL(url);
  const server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      node.metrics.registry.metrics().then(
        (text) => {
          response.writeHead(200, { "content-type": node.metrics.registry.contentType });
          response.end(text);
        },
        (error: Error) => {
          response.writeHead(500).end(error.message);
        },
      );
      return;
    }
    if (path === "/healthz") {
      response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    if (path === "/readyz") {
      const status = node.status();
      const lag = status.commitIndex - status.appliedIndex;
      const ready = status.leader !== 0 && lag <= READY_MAX_APPLY_LAG && !node.diskFull;
      const why = node.diskFull
        ? "disk full"
        : status.leader === 0
          ? "no leader"
          : `apply lag ${lag} entries`;
      response
        .writeHead(ready ? 200 : 503, { "content-type": "text/plain" })
        .end(ready ? "ok\n" : `not ready: ${why}\n`);
      return;
    }
    response
      .writeHead(404, { "content-type": "text/plain" })
      .end("try /metrics, /healthz or /readyz\n");
  });
  await listen(server, hostname, Number(port), "--listen-metrics-urls");
  return server;
}

export class PortInUseError extends Error {
  override name = "PortInUseError";
}

/** Listens, turning EADDRINUSE into an error that names the address and the flag to change. */
export function listen(server: Server, host: string, port: number, flag: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") {
        reject(
          new PortInUseError(
            `${host}:${port} is already in use (another qmesh or etcd?): stop it or choose another ${flag}`,
          ),
        );
      } else reject(error);
    };
    server.once("error", onError);
    server.listen(port, host.replace(/^\[|\]$/g, ""), () => {
      server.off("error", onError);
      resolve();
    });
  });
}
