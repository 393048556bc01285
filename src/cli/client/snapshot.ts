// snapshot save FILE: streams a member's snapshot to FILE.part and renames it when complete, so a
// broken transfer never leaves a file that looks whole.
import { createWriteStream, renameSync, rmSync } from "node:fs";
import type { Command } from "commander";
import { CommanderError } from "commander";
import { write } from "./output.ts";
import {
  type ConnectionFlags,
  clientAction,
  requestError,
  withConnectionFlags,
} from "./session.ts";

export function addSnapshotCommands(program: Command): void {
  const snapshot = program.command("snapshot").description("save a member's backend snapshot");
  withConnectionFlags(snapshot.command("save <file>"))
    .description("stream a snapshot of one member (the first reachable endpoint) into file")
    .action(
      clientAction(async (session, file: string, _flags: ConnectionFlags) => {
        const partial = `${file}.part`;
        const { client, metadata } = await session.stream("Maintenance");
        const out = createWriteStream(partial, { mode: 0o600 });
        try {
          let complete = false;
          const stream = client.Snapshot({}, metadata);
          for await (const chunk of stream) {
            if (!out.write(chunk.blob))
              await new Promise<void>((resolve) => out.once("drain", () => resolve()));
            if (chunk.remaining_bytes === "0") complete = true;
          }
          await new Promise<void>((resolve, reject) =>
            out.end((error?: Error | null) => (error ? reject(error) : resolve())),
          );
          if (!complete)
            throw new CommanderError(
              1,
              "qmesh.snapshot",
              `${session.endpoint} ended the snapshot early`,
            );
          renameSync(partial, file);
        } catch (error) {
          out.destroy();
          rmSync(partial, { force: true });
          throw requestError(error);
        }
        write(`Snapshot saved at ${file}\n`);
      }),
    );
}
