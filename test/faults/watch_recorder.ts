// A watch on the run's whole key space, recorded event by event. When its member dies or stops
// answering, it reopens on the next member from the revision after the last one it saw, as an
// etcd client does; what it records is then checked for gaps, duplicates and order.
import { appendFileSync } from "node:fs";
import { connectEtcd } from "../../src/api/grpc/client.ts";
import { prefixEnd } from "../../src/kv/index.ts";
import {
  KEY_PREFIX,
  type WatchRecord,
  type WorkerCommand,
  type WorkerConfig,
} from "./worker_protocol.ts";

/** The fields of etcd's WatchResponse this recorder reads (proto-loader's plain objects). */
interface WatchResponse {
  header: { revision: string };
  created: boolean;
  canceled: boolean;
  events?: { type: number; kv: { key: Buffer; value: Buffer; mod_revision: string } }[];
}

/** A stream silent this long while writes go on is presumed stuck (a cut-off member). */
const SILENCE_MS = 4_000;

export async function watchKeyspace(config: WorkerConfig): Promise<void> {
  const record = (line: WatchRecord) =>
    appendFileSync(config.watchFile, `${JSON.stringify(line)}\n`);
  let finishAt = Number.POSITIVE_INFINITY;
  process.on("message", (message: WorkerCommand) => {
    if (message.type === "finish") finishAt = message.revision;
  });
  await new Promise((resolve) => setTimeout(resolve, config.watchDelayMs));
  let nextRevision = config.watchFromRevision ?? 0;
  let attempt = 0;
  // Bounded by the run (its duration, then catching up); one that cannot finish shows the gap.
  const deadline = Date.now() + config.watchDeadlineMs;
  while (nextRevision <= finishAt && Date.now() < deadline) {
    const endpoint = config.endpoints[(config.clientBase + attempt++) % config.endpoints.length]!;
    nextRevision = await watchOnce(endpoint, nextRevision, record, () => finishAt);
    if (nextRevision <= finishAt) await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Streams until the stream fails or the final revision arrives; returns the next revision wanted. */
function watchOnce(
  endpoint: string,
  fromRevision: number,
  record: (line: WatchRecord) => void,
  finishAt: () => number,
): Promise<number> {
  const client = connectEtcd(endpoint);
  const stream = client.raw("Watch").Watch();
  let next = fromRevision;
  let lastHeard = Date.now();
  const prefix = Buffer.from(KEY_PREFIX);
  return new Promise((resolve) => {
    let done = false;
    const end = () => {
      if (done) return;
      done = true;
      clearInterval(timer);
      stream.cancel();
      client.close();
      resolve(next);
    };
    const timer = setInterval(() => {
      if (next > finishAt() || Date.now() - lastHeard > SILENCE_MS) end();
    }, 250);
    stream.on("data", (response: WatchResponse) => {
      lastHeard = Date.now();
      if (response.created) {
        // Without a start revision the watch begins after the revision its header names.
        const start = fromRevision === 0 ? Number(response.header.revision) + 1 : fromRevision;
        if (next === 0) next = start;
        record({ kind: "opened", startRevision: start, endpoint });
      }
      if (response.canceled) end();
      for (const event of response.events ?? []) {
        const revision = Number(event.kv.mod_revision);
        record({
          kind: "event",
          revision,
          key: Buffer.from(event.kv.key).toString().slice(KEY_PREFIX.length),
          type: event.type === 1 ? "delete" : "put",
          value: event.type === 1 ? null : Buffer.from(event.kv.value).toString(),
        });
        next = revision + 1;
      }
      if (next > finishAt()) end();
    });
    stream.on("error", end);
    stream.on("end", end);
    stream.write({
      create_request: {
        key: prefix,
        range_end: prefixEnd(prefix),
        start_revision: String(fromRevision),
        progress_notify: true,
      },
    });
  });
}
