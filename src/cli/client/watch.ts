// watch: prints each event as etcdctl does (type, then the previous key-value with --prev-kv,
// then the key-value) until Ctrl-C, or until the member cancels the watch.
import type { Command } from "commander";
import { CommanderError } from "commander";
import { parseNonNegative } from "./ids.ts";
import { keyRange } from "./kv.ts";
import { kvLines, messageJson, write } from "./output.ts";
import {
  type ConnectionFlags,
  clientAction,
  requestError,
  usageError,
  withConnectionFlags,
} from "./session.ts";

interface WatchFlags extends ConnectionFlags {
  prefix?: boolean;
  rev?: string;
  prevKv?: boolean;
}

const EVENT_TYPES = ["PUT", "DELETE"];

function eventsText(response: any): string {
  return response.events
    .map(
      (event: any) =>
        `${EVENT_TYPES[event.type] ?? event.type}\n${event.prev_kv === null ? "" : kvLines(event.prev_kv)}${kvLines(event.kv)}`,
    )
    .join("");
}

function cancelReason(response: any): string {
  if (response.cancel_reason !== "") return response.cancel_reason;
  if (response.compact_revision !== "0")
    return `etcdserver: mvcc: required revision has been compacted (compacted to ${response.compact_revision})`;
  return "canceled by the member";
}

export function addWatchCommand(program: Command): void {
  withConnectionFlags(program.command("watch <key>"))
    .description("print changes to a key (or prefix) as they happen; Ctrl-C stops")
    .option("--prefix", "every key with this prefix")
    .option("--rev <revision>", "start from a past revision (replays history)")
    .option("--prev-kv", "print each event's previous key-value too")
    .action(
      clientAction(async (session, key: string, flags: WatchFlags) => {
        const range = keyRange(key, flags);
        if (range === undefined)
          throw usageError("--prefix and --from-key cannot be used together");
        const create = {
          ...range,
          start_revision: flags.rev === undefined ? "0" : parseNonNegative("--rev", flags.rev),
          prev_kv: flags.prevKv === true,
        };
        const { client, metadata } = await session.stream("Watch");
        const stream = client.Watch(metadata);
        await new Promise<void>((resolve, reject) => {
          const stop = () => {
            stream.cancel();
            resolve();
          };
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
          stream.on("data", (response: any) => {
            if (flags.writeOut === "json") write(`${messageJson(response, "WatchResponse")}\n`);
            else write(eventsText(response));
            if (response.canceled) {
              stream.cancel();
              reject(
                new CommanderError(
                  1,
                  "qmesh.watch",
                  `watch was canceled (${cancelReason(response)})`,
                ),
              );
            }
          });
          stream.on("error", (error: { code?: number }) => {
            if (error.code === 1)
              resolve(); // CANCELLED: we ended it
            else reject(requestError(error));
          });
          stream.on("end", () => resolve());
          stream.write({ create_request: create, request_union: "create_request" });
        });
      }),
    );
}
