// Compiling a rule's CEL expression: parse, type-check, refuse what is not deterministic or not
// bounded, and cache the program by expression text.
//
// Library: @marcbachmann/cel-js (pinned exactly: every member must run the same CEL semantics).
// Two environments see the same variables: the checking one declares value and prev as a typed
// message so `value.sise` is refused when the rule is set, and the running one declares them dyn
// because a delete has no value and a new key no prev (the library will not pass null for a
// message-typed variable). The running environment differs in one more way: matches() is
// rewritten to RE2 (re2js, linear time, through regex.ts) instead of JavaScript's RegExp.
import { type ASTNode, Environment } from "@marcbachmann/cel-js";
import { type CostModel, comprehensionDepth, estimateCost } from "./cost.ts";
import { positionOf, RuleValidationError } from "./errors.ts";
import { MAX_PROGRAM_SIZE, Regex, RegexSyntaxError } from "./regex.ts";
import { activationFor, EMPTY_WRITE, VALUE_FIELDS, VARIABLE_TYPES } from "./variables.ts";

/** Longest expression, in UTF-8 bytes. */
export const MAX_EXPRESSION_BYTES = 4096;
/** The most a rule may cost for one write, in cost.ts's units (100-200 ns each, so a rule at
 *  the limit holds the apply loop for roughly 20-40 ms; real rules cost well under 1,000). */
export const COST_LIMIT = 200_000;
/** Longest regex pattern, literal or computed, in characters. */
export const MAX_PATTERN_LENGTH = 1024;
/** Comprehensions (all, exists, exists_one, map, filter) nested deeper than this are refused. */
export const MAX_COMPREHENSION_DEPTH = 3;

/** Parse-time limits, well inside what 4 KiB of source needs, and shallow enough for the stack. */
const LIMITS = {
  maxAstNodes: 1024,
  maxDepth: 32,
  maxListElements: 256,
  maxMapEntries: 256,
  maxCallArguments: 16,
};

/** The name receiver-style matches() is rewritten to (the library's own cannot be replaced). */
const SAFE_MATCHES = "matches_re2";

/** Compiled patterns kept. Each holds re2js's lazy DFA cache, which a pattern crafted to need
 *  many states grows to its budget of 8 MiB over enough input: 64 of them stay near 0.5 GiB. */
const REGEX_CACHE_SIZE = 64;
const regexCache = new Map<string, Regex>();

function regexFor(pattern: string): Regex {
  let re = regexCache.get(pattern);
  if (re !== undefined) return re;
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new RegexSyntaxError(`pattern longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  re = new Regex(pattern);
  if (regexCache.size >= REGEX_CACHE_SIZE) regexCache.delete(regexCache.keys().next().value!);
  regexCache.set(pattern, re);
  return re;
}

const safeMatches = (s: string, pattern: string): boolean => regexFor(pattern).test(s);

function environment(messageType: string): Environment {
  const env = new Environment({ limits: LIMITS });
  if (messageType === "Value") {
    env
      .registerType("Value", { fields: { ...VALUE_FIELDS } })
      .registerOperator("Value == null", (a: unknown) => a === null);
  }
  for (const [name, type] of Object.entries(VARIABLE_TYPES)) {
    env.registerVariable(name, type === "Value" ? messageType : type);
  }
  // CEL's global form matches(s, re), which the library lacks.
  env.registerFunction("matches(string, string): bool", safeMatches);
  return env;
}

const checking = environment("Value");
const running = environment("dyn").registerFunction(
  `string.${SAFE_MATCHES}(string): bool`,
  safeMatches,
);

export interface CompiledExpression {
  readonly expression: string;
  /** The running program's syntax tree (matches() rewritten), for the cost estimate. */
  readonly ast: ASTNode;
  /** Evaluates with the given variables; throws on a CEL runtime error. */
  run(variables: Readonly<Record<string, unknown>>): unknown;
}

const MATCHES_NAMES: ReadonlySet<string> = new Set(["matches", SAFE_MATCHES]);

/** The cost model for a write with the given variables. */
export function costModel(variables: CostModel["variables"]): CostModel {
  return {
    variables,
    regexSize: (pattern) => {
      try {
        return regexFor(pattern).size;
      } catch {
        return undefined;
      }
    },
    maxRegexSize: MAX_PROGRAM_SIZE,
    matchesNames: MATCHES_NAMES,
  };
}

/** Library errors carry a source range; say where, and name matches() as the user wrote it. */
function fromLibraryError(expression: string, error: unknown): RuleValidationError {
  const e = error as { summary?: string; message?: string; range?: { start: number } };
  const detail = (e.summary ?? e.message ?? String(error)).replaceAll(SAFE_MATCHES, "matches");
  const position = e.range ? positionOf(expression, e.range.start) : undefined;
  return new RuleValidationError("expression", detail, position);
}

function isNode(n: unknown): n is ASTNode {
  return n !== null && typeof n === "object" && "op" in n && "args" in n && !Array.isArray(n);
}

function walk(n: unknown, visit: (node: ASTNode) => void): void {
  if (Array.isArray(n)) {
    for (const item of n) walk(item, visit);
  } else if (isNode(n)) {
    visit(n);
    if (n.op !== "value" && n.op !== "id") walk(n.args, visit);
  }
}

/** Refuses what would not be deterministic and checks literal patterns; rewrites matches(). */
function prepare(expression: string, ast: ASTNode): void {
  walk(ast, (node) => {
    if (node.op !== "call" && node.op !== "rcall") return;
    const name = node.args[0];
    const where = positionOf(expression, node.start);
    if (name === "timestamp") {
      // It parses strings with the JavaScript Date, which falls back to the process's local time
      // zone, and its accessors consult time zone data: both can differ between members.
      throw new RuleValidationError("expression", "timestamp() is not available in rules", where);
    }
    if (name === "json" && node.op === "rcall") {
      // The library's bytes.json() (not standard CEL) misreads a Uint8Array, and it has no depth
      // limit: comparing deeply nested JSON would overflow the stack at a depth that depends on
      // the member. value.json and prev.json are the depth-limited alternative.
      throw new RuleValidationError(
        "expression",
        "json() is not available in rules; use value.json or prev.json",
        where,
      );
    }
    if (name !== "matches") return;
    const pattern = node.op === "rcall" ? node.args[2][0] : node.args[1][1];
    if (pattern?.op === "value" && typeof pattern.args === "string") {
      try {
        regexFor(pattern.args);
      } catch (e) {
        const at = positionOf(expression, pattern.start);
        throw new RuleValidationError("expression", (e as Error).message, at);
      }
    }
    if (node.op === "rcall") (node.args as unknown[])[0] = SAFE_MATCHES;
  });
}

/** Compiles expression, or throws RuleValidationError saying what is wrong and where. */
export function compileExpression(expression: string): CompiledExpression {
  if (typeof expression !== "string" || expression.trim() === "") {
    throw new RuleValidationError("expression", "must not be empty");
  }
  const bytes = new TextEncoder().encode(expression).length;
  if (bytes > MAX_EXPRESSION_BYTES) {
    throw new RuleValidationError(
      "expression",
      `too long: ${bytes} bytes, over the limit of ${MAX_EXPRESSION_BYTES}`,
    );
  }
  const checked = checking.check(expression);
  if (!checked.valid) throw fromLibraryError(expression, checked.error);
  if (checked.type !== "bool") {
    const hint = checked.type === "dyn" ? " (compare it: `... == true`)" : "";
    throw new RuleValidationError(
      "expression",
      `must return bool, but returns ${checked.type}${hint}`,
      positionOf(expression, 0),
    );
  }
  let program: ReturnType<Environment["parse"]>;
  try {
    program = running.parse(expression);
  } catch (e) {
    throw fromLibraryError(expression, e);
  }
  prepare(expression, program.ast);
  const depth = comprehensionDepth(program.ast);
  if (depth > MAX_COMPREHENSION_DEPTH) {
    throw new RuleValidationError(
      "expression",
      `comprehensions nested ${depth} deep, over the limit of ${MAX_COMPREHENSION_DEPTH}`,
    );
  }
  const rechecked = program.check();
  if (!rechecked.valid) throw fromLibraryError(expression, rechecked.error);
  let floor: number;
  try {
    floor = estimateCost(program.ast, costModel(activationFor(EMPTY_WRITE).values));
  } catch (e) {
    throw new RuleValidationError("expression", (e as Error).message);
  }
  if (floor > COST_LIMIT) {
    throw new RuleValidationError(
      "expression",
      `too expensive: estimated cost ${Math.ceil(floor)} even for an empty value, over the ` +
        `limit of ${COST_LIMIT}`,
    );
  }
  return { expression, ast: program.ast, run: (variables) => program(variables) };
}

const CACHE_SIZE = 1024;
const compiled = new Map<string, CompiledExpression | RuleValidationError>();

/** compileExpression, cached by expression text (failures too: a bad stored rule stays bad). */
export function compileCached(expression: string): CompiledExpression {
  let entry = compiled.get(expression);
  if (entry === undefined) {
    try {
      entry = compileExpression(expression);
    } catch (e) {
      if (!(e instanceof RuleValidationError)) throw e;
      entry = e;
    }
    if (compiled.size >= CACHE_SIZE) compiled.delete(compiled.keys().next().value!);
    compiled.set(expression, entry);
  }
  if (entry instanceof RuleValidationError) throw entry;
  return entry;
}

/** Forgets every compiled program (for tests that compare fresh compiles). */
export function clearCompileCache(): void {
  compiled.clear();
  regexCache.clear();
}

/** A run-time error as the rule's author wrote the expression: what, and where if known. */
export function describeRuntimeError(expression: string, error: unknown): string {
  const e = error as { summary?: string; message?: string; range?: { start: number } };
  const text = (e?.summary ?? e?.message ?? String(error)).replaceAll(SAFE_MATCHES, "matches");
  if (typeof e?.range?.start !== "number") return text;
  const { line, column } = positionOf(expression, e.range.start);
  return `${text} (line ${line}, column ${column})`;
}
