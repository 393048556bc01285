// C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint, v1.0.0): the text of a signed note
// that states a tree head, one item a line: the log's origin, the tree size in decimal, the
// base64 root hash, then optional extension lines. Parsing is strict (no leading zeros, no
// non-canonical base64, no empty lines), so formatCheckpoint(parseCheckpoint(t)) === t.

import { decodeBase64, encodeBase64, quote } from "./encoding.ts";
import { HASH_BYTES } from "./merkle.ts";

export interface Checkpoint {
  /** Names the log; for qmesh, the cluster's ledger. */
  readonly origin: string;
  /** Leaves in the tree; tree sizes are safe integers, as in merkle.ts. */
  readonly size: number;
  /** RFC 9162 root hash of the first `size` leaves. */
  readonly rootHash: Uint8Array;
  /** Opaque, non-empty lines that the signatures cover too. */
  readonly extensions: readonly string[];
}

export class CheckpointFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointFormatError";
  }
}

const TREE_SIZE = /^(?:0|[1-9][0-9]*)$/;

/** Why `line` cannot be a line of a checkpoint, or null. */
function lineProblem(line: string): string | null {
  if (line.length === 0) return "is empty";
  for (let i = 0; i < line.length; i++) {
    if (line.charCodeAt(i) < 0x20) return "holds a control character";
  }
  return null;
}

export function formatCheckpoint(checkpoint: Checkpoint): string {
  const lines = [checkpoint.origin, ...checkpoint.extensions];
  lines.forEach((line, i) => {
    const problem = lineProblem(line);
    const what = i === 0 ? "the origin" : `extension line ${i}`;
    if (problem !== null) throw new CheckpointFormatError(`cannot format: ${what} ${problem}`);
  });
  if (!Number.isSafeInteger(checkpoint.size) || checkpoint.size < 0) {
    throw new CheckpointFormatError(`cannot format: tree size ${checkpoint.size} is not a count`);
  }
  if (checkpoint.rootHash.length !== HASH_BYTES) {
    throw new CheckpointFormatError(
      `cannot format: the root hash is ${checkpoint.rootHash.length} bytes, not ${HASH_BYTES}`,
    );
  }
  const head = [checkpoint.origin, String(checkpoint.size), encodeBase64(checkpoint.rootHash)];
  return `${[...head, ...checkpoint.extensions].join("\n")}\n`;
}

function parseTreeSize(line: string): number {
  if (!TREE_SIZE.test(line)) {
    throw new CheckpointFormatError(`not a checkpoint: line 2 is not a tree size: ${quote(line)}`);
  }
  const size = Number(line);
  if (!Number.isSafeInteger(size)) {
    throw new CheckpointFormatError(
      `not a checkpoint: line 2, tree size ${line}, is above 2^53 - 1`,
    );
  }
  return size;
}

/** The checkpoint that a note's text states; `text` is the note text, final newline included. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith("\n")) {
    throw new CheckpointFormatError("not a checkpoint: the text does not end in a newline");
  }
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) {
    throw new CheckpointFormatError(
      `not a checkpoint: ${lines.length} line(s), fewer than origin, tree size and root hash`,
    );
  }
  lines.forEach((line, i) => {
    const problem = lineProblem(line);
    if (problem !== null)
      throw new CheckpointFormatError(`not a checkpoint: line ${i + 1} ${problem}`);
  });
  const [origin, sizeLine, rootLine, ...extensions] = lines as [
    string,
    string,
    string,
    ...string[],
  ];
  const size = parseTreeSize(sizeLine);
  const rootHash = decodeBase64(rootLine);
  if (rootHash === null || rootHash.length !== HASH_BYTES) {
    throw new CheckpointFormatError(
      `not a checkpoint: line 3 is not a root hash (the base64 of ${HASH_BYTES} bytes): ${quote(rootLine)}`,
    );
  }
  return { origin, size, rootHash, extensions };
}
