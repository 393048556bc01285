// qmesh ledger proof | check | audit | rotate-keys | verify: receipts for writes, checked
// offline; a monitor that follows a live cluster's certified checkpoints; new signing keys for a
// member; and a stopped member's whole ledger recomputed from its data directory.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { CommanderError } from "commander";
import { decodeCommand, type Command as KvCommand, type RequestOp } from "../kv/index.ts";
import {
  decodePublicLedgerKeys,
  encodePublicLedgerKeys,
  encodeReceipt,
  parseReceipt,
  publicLedgerKeys,
  type Receipt,
  type TrustedMember,
  verifyReceipt,
} from "../ledger/index.ts";
import { LEDGER_KEYS_FILE, rotateLedgerKeys } from "../node/ledger_signing.ts";
import { write } from "./client/output.ts";
import {
  type ConnectionFlags,
  clientAction,
  usageError,
  withConnectionFlags,
} from "./client/session.ts";
import { auditCluster } from "./ledger_audit.ts";
import { verifyDataDir } from "./ledger_verify.ts";

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const CERTIFY_WAIT_MS = 10_000;

/** Reads a file of public keys: a JSON array of qmesh-ledger-public-keys/v1 records. */
export function readTrustedKeys(path: string): TrustedMember[] {
  let records: unknown;
  try {
    records = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw usageError(`--trusted-keys ${path}: ${(error as Error).message}`);
  }
  if (!Array.isArray(records)) {
    throw usageError(`--trusted-keys ${path}: expected a JSON array of member key records`);
  }
  return records.map((record, i) =>
    publicKeysOf(JSON.stringify(record), `--trusted-keys ${path} [${i}]`),
  );
}

/** One member's public keys, or a clear error naming where they came from. */
function publicKeysOf(json: string, where: string): TrustedMember {
  try {
    return decodePublicLedgerKeys(json);
  } catch (error) {
    throw new CommanderError(1, "qmesh.ledger", `${where}: ${(error as Error).message}`);
  }
}

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw usageError(`${flag} must be a number above 0, got "${value}"`);
  return n;
}

function quorumOf(flag: string | undefined, members: number): number {
  if (flag === undefined) return Math.floor(members / 2) + 1;
  const quorum = Number(flag);
  if (!Number.isInteger(quorum) || quorum < 1 || quorum > members) {
    throw usageError(`--quorum must be a whole number in 1..${members}, got "${flag}"`);
  }
  return quorum;
}

/** Whether a kv command (a txn's branches included) writes `key`. */
function writesKey(command: KvCommand | RequestOp, key: Buffer): boolean {
  if (command.op === "put") return key.equals(command.key);
  if (command.op === "deleteRange") {
    if (command.rangeEnd.length === 0) return key.equals(command.key);
    return Buffer.compare(key, command.key) >= 0 && Buffer.compare(key, command.rangeEnd) < 0;
  }
  if (command.op === "txn") {
    return [...command.success, ...command.failure].some((op) => writesKey(op, key));
  }
  return false;
}

async function makeReceipt(
  session: Parameters<Parameters<typeof clientAction>[0]>[0],
  key: string,
  revisionFlag: string | undefined,
): Promise<Receipt> {
  let revision: number;
  if (revisionFlag === undefined) {
    const range = await session.call("KV", "Range", { key: Buffer.from(key) });
    if (range.kvs.length === 0) {
      throw new CommanderError(1, "qmesh.ledger", `key "${key}" does not exist: no write to prove`);
    }
    revision = Number(range.kvs[0].mod_revision);
  } else {
    revision = Number(revisionFlag);
    if (!Number.isSafeInteger(revision) || revision < 1) {
      throw usageError(`--revision must be a revision (a whole number ≥ 1), got "${revisionFlag}"`);
    }
  }
  // The checkpoint must be certified and cover the write: certification follows within a second.
  const deadline = Date.now() + CERTIFY_WAIT_MS;
  for (;;) {
    const checkpoint = await session
      .call("Ledger", "Checkpoint", { certified: true })
      .catch((error) => {
        if ((error as CommanderError).message?.includes("no checkpoint has been certified")) {
          return null;
        }
        throw error;
      });
    if (checkpoint !== null) {
      const proof = await session
        .call("Ledger", "InclusionProof", {
          revision: String(revision),
          tree_size: checkpoint.tree_size,
        })
        .catch((error) => {
          if ((error as CommanderError).message?.includes("is not in a tree")) return null;
          throw error;
        });
      if (proof !== null) {
        return {
          format: "qmesh-receipt/v1",
          key,
          revision,
          leafIndex: Number(proof.leaf_index),
          leaf: b64(proof.leaf),
          proof: (proof.proof as Buffer[]).map(b64),
          checkpoint: checkpoint.signed_note,
          memberKeys: checkpoint.member_keys,
        };
      }
    }
    if (Date.now() > deadline) {
      throw new CommanderError(
        1,
        "qmesh.ledger",
        `no certified checkpoint covers revision ${revision} after ${CERTIFY_WAIT_MS / 1000} s: ` +
          "is a quorum of members up?",
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export function addLedgerCommands(program: Command): void {
  const ledger = program
    .command("ledger")
    .description("receipts, proofs and audits of the signed Merkle ledger");

  // The key is positional, as in `qmesh get`: --key is etcdctl's TLS key flag on every client
  // command.
  withConnectionFlags(ledger.command("proof <key>"))
    .description("write a self-contained receipt for a key's write (checkable offline)")
    .option("--revision <rev>", "the write's revision (default: the key's latest)")
    .option("--out <file>", "where to write the receipt (default: stdout)")
    .action(
      clientAction(
        async (
          session,
          key: string,
          flags: ConnectionFlags & { revision?: string; out?: string },
        ) => {
          const receipt = await makeReceipt(session, key, flags.revision);
          const text = encodeReceipt(receipt);
          if (flags.out === undefined) write(text);
          else {
            writeFileSync(flags.out, text);
            write(
              `receipt for "${key}" at revision ${receipt.revision} (leaf ${receipt.leafIndex}) written to ${flags.out}\n`,
            );
          }
        },
      ),
    );

  ledger
    .command("check <receipt>")
    .description(
      "verify a receipt offline: signatures, inclusion proof, and that it is the key's write",
    )
    .option("--trusted-keys <file>", "JSON array of the members' public ledger keys to trust")
    .option("--quorum <n>", "signatures needed (default: a majority of the trusted keys)")
    .action(async (file: string, flags: { trustedKeys?: string; quorum?: string }) => {
      let receipt: Receipt;
      try {
        receipt = parseReceipt(readFileSync(file, "utf8"));
      } catch (error) {
        throw new CommanderError(1, "qmesh.ledger", `${file}: ${(error as Error).message}`);
      }
      const pinned = flags.trustedKeys !== undefined;
      const trusted = pinned
        ? readTrustedKeys(flags.trustedKeys!)
        : receipt.memberKeys.map((k, i) => publicKeysOf(k, `${file}: memberKeys[${i}]`));
      const quorum = quorumOf(flags.quorum, trusted.length);
      try {
        const verified = await verifyReceipt(receipt, trusted, quorum);
        let command: KvCommand;
        try {
          command = decodeCommand(verified.leaf.request);
        } catch {
          throw new Error(`leaf ${receipt.leafIndex} is not a kv write`);
        }
        if (!writesKey(command, Buffer.from(receipt.key))) {
          throw new Error(`leaf ${receipt.leafIndex} does not write the key "${receipt.key}"`);
        }
        write(
          `OK: "${receipt.key}" revision ${receipt.revision} is leaf ${receipt.leafIndex} of the ` +
            `certified tree of size ${verified.checkpoint.checkpoint.size}, signed by ` +
            `${verified.checkpoint.signers.join(", ")} (quorum ${quorum} of ${trusted.length})\n`,
        );
        if (!pinned) {
          process.stderr.write(
            "note: the signers' keys came from the receipt itself; pin them with --trusted-keys " +
              "for a check that trusts no one\n",
          );
        }
      } catch (error) {
        throw new CommanderError(
          1,
          "qmesh.ledger",
          `receipt ${file} is NOT valid: ${(error as Error).message}`,
        );
      }
    });

  withConnectionFlags(ledger.command("audit"))
    .description(
      "follow a live cluster: every new certified checkpoint must extend the last one seen",
    )
    .option("--trusted-keys <file>", "pin the members' keys (default: the first checkpoint's)")
    .option("--interval <ms>", "how often to ask for a new checkpoint", "1000")
    .option("--duration <s>", "stop after this many seconds (default: run until interrupted)")
    .action(
      clientAction(
        async (
          session,
          flags: ConnectionFlags & { trustedKeys?: string; interval: string; duration?: string },
        ) => {
          const trusted =
            flags.trustedKeys === undefined ? null : readTrustedKeys(flags.trustedKeys);
          await auditCluster(session, {
            trusted,
            intervalMs: positive("--interval", flags.interval),
            durationMs:
              flags.duration === undefined ? null : positive("--duration", flags.duration) * 1000,
            out: (line) => write(`${line}\n`),
          });
        },
      ),
    );

  ledger
    .command("rotate-keys")
    .description(
      "give a member new ledger signing keys; it publishes them through the log when it next starts",
    )
    .requiredOption("--data-dir <dir>", "the member's data directory")
    .action(async (flags: { dataDir: string }) => {
      let rotated: Awaited<ReturnType<typeof rotateLedgerKeys>>;
      try {
        rotated = await rotateLedgerKeys(flags.dataDir);
      } catch (error) {
        throw new CommanderError(1, "qmesh.ledger", `rotate-keys: ${(error as Error).message}`);
      }
      write(
        `new ledger keys for ${rotated.next.name} are in ${join(flags.dataDir, LEDGER_KEYS_FILE)}; ` +
          "the old secret keys are gone.\n" +
          "Restart the member: it publishes the new public keys through the log, and the others " +
          "count its signatures under them once that entry is applied. Auditors following the " +
          "cluster pin them from a checkpoint that covers it. Rotate one member at a time.\n" +
          encodePublicLedgerKeys(publicLedgerKeys(rotated.next)),
      );
    });

  ledger
    .command("verify")
    .description(
      "recompute a stopped member's whole ledger from its data and check every checkpoint",
    )
    .requiredOption("--data-dir <dir>", "the member's data directory")
    .action(async (flags: { dataDir: string }) => {
      const ok = await verifyDataDir(flags.dataDir, {
        out: (line) => write(`${line}\n`),
        progress: (line) => process.stderr.write(line),
      });
      if (!ok)
        throw new CommanderError(
          1,
          "qmesh.ledger",
          `the ledger of ${flags.dataDir} does NOT verify`,
        );
    });
}
