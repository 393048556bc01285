// The ledger's own log entries (ProposalKind.Ledger): the leader seals a checkpoint size, and each
// voting member proposes its signed note for it. They are leaves like any other entry, so the
// ledger records its own certification.
export type LedgerCommand = { readonly seal: true } | { readonly cosign: string };

export class LedgerCommandError extends Error {
  override name = "LedgerCommandError";
}

export function encodeLedgerCommand(command: LedgerCommand): Uint8Array {
  return Buffer.from(JSON.stringify(command));
}

export function decodeLedgerCommand(bytes: Uint8Array): LedgerCommand {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw new LedgerCommandError("not JSON");
  }
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>;
    if (record.seal === true) return { seal: true };
    if (typeof record.cosign === "string") return { cosign: record.cosign };
  }
  throw new LedgerCommandError("neither a seal nor a cosignature");
}
