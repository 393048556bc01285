// Errors of the contracts layer. Messages say what is wrong and where, because an operator
// reads them when a rule is refused at set time.

export type RuleField = "name" | "prefix" | "expression" | "message";

/** Where in a rule's expression a problem is (1-based, counted in characters). */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/** A rule that may not be stored: a bad name or prefix, or an expression that does not compile. */
export class RuleValidationError extends Error {
  constructor(
    readonly field: RuleField,
    readonly detail: string,
    readonly position?: SourcePosition,
  ) {
    const where = position ? ` (line ${position.line}, column ${position.column})` : "";
    super(`invalid rule ${field}: ${detail}${where}`);
    this.name = "RuleValidationError";
  }
}

/** Bytes that are not a rule in the stored encoding. */
export class RuleDecodeError extends Error {
  constructor(message: string) {
    super(`cannot decode rule: ${message}`);
    this.name = "RuleDecodeError";
  }
}

/** The 1-based line and column of a character offset into source. */
export function positionOf(source: string, offset: number): SourcePosition {
  const before = source.slice(0, Math.max(0, offset));
  const lines = before.split("\n");
  return { line: lines.length, column: Array.from(lines[lines.length - 1]!).length + 1 };
}
