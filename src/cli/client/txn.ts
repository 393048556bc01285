// txn: reads etcdctl's transaction format from stdin (see txn_parse.ts) and prints SUCCESS or
// FAILURE, then each operation's response after a blank line, as etcdctl does.
import type { Command } from "commander";
import { deleteText, putText, rangeText } from "./kv.ts";
import { write, writeJson } from "./output.ts";
import { type ConnectionFlags, clientAction, usageError, withConnectionFlags } from "./session.ts";
import { parseTxn, TxnSyntaxError } from "./txn_parse.ts";

const MAX_INPUT_BYTES = 16 * 1024 * 1024;

async function readStdin(prompt: boolean): Promise<string> {
  if (prompt)
    process.stderr.write(
      "compares, a blank line, success requests (get, put, del), a blank line, failure requests, a blank line:\n",
    );
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin) {
    bytes += (chunk as Buffer).length;
    if (bytes > MAX_INPUT_BYTES)
      throw usageError(`txn input is larger than ${MAX_INPUT_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function txnText(response: any): string {
  const parts = [response.succeeded ? "SUCCESS\n" : "FAILURE\n"];
  for (const op of response.responses) {
    parts.push("\n");
    if (op.response === "response_put") parts.push(putText(op.response_put));
    else if (op.response === "response_range") parts.push(rangeText(op.response_range));
    else if (op.response === "response_delete_range")
      parts.push(deleteText(op.response_delete_range));
  }
  return parts.join("");
}

export function addTxnCommand(program: Command): void {
  withConnectionFlags(program.command("txn"))
    .description(
      'one atomic transaction from stdin: compares (e.g. mod("k") > "0"), a blank line, success ops (put/get/del lines), a blank line, failure ops',
    )
    .option("-i, --interactive", "prompt for the input")
    .action(
      clientAction(async (session, flags: { interactive?: boolean } & ConnectionFlags) => {
        let request: object;
        try {
          request = parseTxn(await readStdin(flags.interactive === true));
        } catch (error) {
          if (error instanceof TxnSyntaxError) throw usageError(error.message);
          throw error;
        }
        const response = await session.call("KV", "Txn", request);
        if (flags.writeOut === "json") writeJson(response, "TxnResponse");
        else write(txnText(response));
      }),
    );
}
