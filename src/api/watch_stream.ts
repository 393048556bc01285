// POST /v3/watch: one watch per request, its results streamed as JSON lines (as etcd's gateway
// does), until the client goes away or the watch is cancelled (compacted start revision).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { WatchBatch, WatchEvent } from "../kv/index.ts";
import type { QmeshNode } from "../node/node.ts";
import { header } from "./common.ts";
import { BadRequestError, boolField, bytesField, intField, type Json, kvJson } from "./json.ts";

let nextWatchId = 1;
/** A client that reads slower than this much buffered output loses its watch (as etcd's slow watchers). */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export function serveWatch(
  node: QmeshNode,
  body: Json,
  request: IncomingMessage,
  response: ServerResponse,
): void {
  const create = body.create_request as Json | undefined;
  if (typeof create !== "object" || create === null) {
    throw new BadRequestError('a watch needs "create_request": { "key": ... }');
  }
  const filters = Array.isArray(create.filters) ? create.filters.map(String) : [];
  const watchId = String(nextWatchId++);
  const request_ = {
    key: bytesField(create, "key", true),
    rangeEnd: bytesField(create, "range_end"),
    startRevision: intField(create, "start_revision"),
    prevKv: boolField(create, "prev_kv"),
    filters: {
      noPut: filters.includes("NOPUT") || filters.includes("0"),
      noDelete: filters.includes("NODELETE") || filters.includes("1"),
    },
    progressNotify: boolField(create, "progress_notify"),
  };
  response.writeHead(200, { "content-type": "application/json" });
  const send = (result: Json) => response.write(`${JSON.stringify({ result })}\n`);
  send({ header: header(node), watch_id: watchId, created: true });
  const watcher = node.kv.watches.watch(request_, (batch: WatchBatch) => {
    if ("canceled" in batch) {
      const out: Json = {
        header: header(node),
        watch_id: watchId,
        canceled: true,
        cancel_reason: batch.reason,
      };
      if (batch.compactRevision !== undefined) out.compact_revision = String(batch.compactRevision);
      send(out);
      response.end();
      return;
    }
    if (response.writableLength > MAX_BUFFERED_BYTES) {
      send({
        header: header(node),
        watch_id: watchId,
        canceled: true,
        cancel_reason:
          "watcher is too slow: events were not read; watch again from the last revision seen",
      });
      response.end();
      watcher.cancel();
      return;
    }
    send({
      header: header(node, batch.revision),
      watch_id: watchId,
      events: batch.events.map(eventJson),
    });
  });
  const stop = () => watcher.cancel();
  request.on("close", stop);
  response.on("close", stop);
}

function eventJson(event: WatchEvent): Json {
  const out: Json = { kv: kvJson(event.kv) };
  if (event.type === "delete") out.type = "DELETE";
  if (event.prevKv !== undefined) out.prev_kv = kvJson(event.prevKv);
  return out;
}
