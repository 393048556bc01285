// What members ask each other directly, beside the Raft log (the transport's query frames): the
// hash of their history at a revision (the initial corruption check), and a signed checkpoint
// note to check ahead of its apply. JSON: a handful per second at most.

export type PeerQuery =
  | { readonly query: "hash-history"; readonly revision: number }
  | { readonly query: "note"; readonly note: string };

export function encodePeerQuery(query: PeerQuery): Uint8Array {
  return Buffer.from(JSON.stringify(query));
}

/** Throws an Error that says what is wrong (the asker gets its message). */
export function decodePeerQuery(bytes: Uint8Array): PeerQuery {
  let parsed: { query?: unknown; revision?: unknown; note?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw new Error("malformed query: not JSON");
  }
  if (parsed.query === "hash-history" && Number.isSafeInteger(parsed.revision)) {
    return { query: "hash-history", revision: parsed.revision as number };
  }
  if (parsed.query === "note" && typeof parsed.note === "string") {
    return { query: "note", note: parsed.note };
  }
  throw new Error(`unknown or malformed query ${JSON.stringify(parsed.query)}`);
}
