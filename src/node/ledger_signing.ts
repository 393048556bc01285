// This member's part in checkpointing the ledger: its signing keys (a file in the data directory,
// made on first start), sealing a size when it leads (every interval, or sooner after many
// leaves), signing each sealed size it applies when it votes, and checking every certified root
// against its own. Signing runs after the apply batch, never inside it, and ML-DSA-65 (~10 ms)
// on a worker thread.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  decodeLedgerKeys,
  encodeLedgerKeys,
  equalBytes,
  generateLedgerKeys,
  type LedgerKeyChoice,
  type LedgerKeys,
  type MlDsaSignAsync,
  signCheckpointWith,
} from "../ledger/index.ts";
import { writeFileDurably } from "../storage/index.ts";
import type { LedgerCommand } from "./ledger_command.ts";
import type { LedgerEvent, MemberLedger } from "./member_ledger.ts";

export const LEDGER_KEYS_FILE = "ledger-keys.json";

/** Reads this member's ledger keys, or makes them (both algorithms unless told otherwise). */
export async function loadOrCreateLedgerKeys(
  dataDir: string,
  keyName: string,
  choice: LedgerKeyChoice,
): Promise<LedgerKeys> {
  const path = join(dataDir, LEDGER_KEYS_FILE);
  if (existsSync(path)) return decodeLedgerKeys(readFileSync(path, "utf8"));
  const keys = generateLedgerKeys(keyName, choice);
  await writeFileDurably(path, encodeLedgerKeys(keys), 0o600);
  return keys;
}

/**
 * Replaces this member's ledger keys with fresh ones of the same name and algorithms (the
 * member must be restarted to use them). The old secret is overwritten, not kept: signatures it
 * made stay checkable against the public keys the log recorded. Throws when there are no keys.
 */
export async function rotateLedgerKeys(
  dataDir: string,
): Promise<{ previous: LedgerKeys; next: LedgerKeys }> {
  const path = join(dataDir, LEDGER_KEYS_FILE);
  if (!existsSync(path)) {
    throw new Error(
      `${path} does not exist: a member makes its ledger keys on its first start with the ` +
        "ledger on; is this the member's --data-dir?",
    );
  }
  const previous = decodeLedgerKeys(readFileSync(path, "utf8"));
  const next = generateLedgerKeys(previous.name, {
    ed25519: previous.ed25519 !== undefined,
    mldsa: previous.mldsa !== undefined,
  });
  await writeFileDurably(path, encodeLedgerKeys(next), 0o600);
  return { previous, next };
}

export interface CheckpointerOptions {
  readonly ledger: MemberLedger;
  readonly keys: LedgerKeys;
  /** Where the ML-DSA-65 signature is made (a worker thread: ~10 ms of CPU each). */
  readonly signMlDsa: MlDsaSignAsync;
  readonly origin: string;
  /** Seal at least this often while there are new leaves. */
  readonly intervalMs: number;
  /** Seal sooner once this many leaves wait. */
  readonly maxLeaves: number;
  isLeader(): boolean;
  isVoter(): boolean;
  propose(command: LedgerCommand): Promise<unknown>;
  /**
   * Shows the signed note to every member before it is proposed, so that each checks its
   * ML-DSA-65 signature on a worker thread instead of in its apply batch. Never rejects.
   */
  announce(note: string): Promise<void>;
  /** Monotonic ms, for the interval. */
  now(): number;
  /** POSIX seconds, for the cosignature's timestamp. */
  wallSeconds(): number;
  /** A quorum certified a root this member does not have. */
  diverged(message: string): void;
  warn(message: string): void;
}

export class LedgerCheckpointer {
  private sealing = false;
  private lastSealMs: number;

  constructor(private readonly options: CheckpointerOptions) {
    this.lastSealMs = options.now();
  }

  /** Called on a timer: the leader seals when it is time. */
  tick(): void {
    const { ledger, isLeader, now, intervalMs, maxLeaves } = this.options;
    if (this.sealing || !isLeader() || ledger.unsealedLeaves === 0) return;
    if (now() - this.lastSealMs < intervalMs && ledger.unsealedLeaves < maxLeaves) return;
    this.sealing = true;
    this.lastSealMs = now();
    this.submit({ seal: true }, "sealing a checkpoint").finally(() => {
      this.sealing = false;
    });
  }

  /** Events of an apply batch that committed. */
  applied(events: readonly LedgerEvent[]): void {
    for (const event of events) {
      if (event.type === "sealed") {
        if (this.options.isVoter()) void this.cosign(event.size);
      } else {
        this.compare(event.size, event.root);
      }
    }
  }

  private async cosign(size: number): Promise<void> {
    const { ledger, keys, origin, wallSeconds, signMlDsa, warn } = this.options;
    const root = ledger.checkpoints.sealedRoot(size);
    if (root === undefined) return;
    let note: string;
    try {
      note = await signCheckpointWith(
        keys,
        { origin, size, rootHash: root, extensions: [] },
        wallSeconds(),
        signMlDsa,
      );
    } catch (error) {
      warn(`signing the checkpoint at size ${size} failed: ${(error as Error).message}`);
      return;
    }
    await this.options.announce(note);
    await this.submit({ cosign: note }, `cosigning size ${size}`);
  }

  private compare(size: number, certified: Uint8Array): void {
    const own = this.options.ledger.checkpoints.sealedRoot(size);
    if (own !== undefined && equalBytes(own, certified)) return;
    const hex = (bytes: Uint8Array | undefined) =>
      bytes === undefined ? "none" : Buffer.from(bytes).toString("hex");
    this.options.diverged(
      `this member's ledger diverged from the cluster's: a quorum certified root ${hex(certified)} ` +
        `for tree size ${size}, and this member's root for that size is ${hex(own)}; a leaf ` +
        `before index ${size} differs — run \`qmesh ledger verify\` on this member's data ` +
        "directory, then replace the member",
    );
  }

  private submit(command: LedgerCommand, what: string): Promise<unknown> {
    try {
      return this.options.propose(command).catch((error: Error) => {
        // A later seal is certified instead: nothing to retry.
        this.options.warn(`${what} failed: ${error.message}`);
      });
    } catch (error) {
      this.options.warn(`${what} failed: ${(error as Error).message}`);
      return Promise.resolve();
    }
  }
}
