// CEL's matches(), on re2js: a pure JavaScript port of RE2 (Go's regexp), pinned exactly.
//
// Why not JavaScript's RegExp: it backtracks, so a pattern like (a+)+$ takes exponential time on
// a crafted value, and every member would stall its apply loop on the same write. CEL specifies
// RE2 syntax and semantics; re2js matches in time O(input × program), refuses what RE2 refuses
// (backreferences, lookaround: its lookbehind extension stays off), and its Unicode tables are
// generated into the package, so every member folds case and classifies characters alike.
//
// One thing it does not bound: its own limit on a program is 1.4 million instructions, and a
// pattern of under 1 KiB such as (?:<30 characters>){1000} compiles to a million of them in most
// of a second. So a pattern's program is bounded from its text before it is compiled.
import { RE2JS, RE2JSException, RE2JSSyntaxException, RE2Set } from "re2js";

/** Bounds compile time and memory, and the per-character work of a match (RE2 instructions). */
export const MAX_PROGRAM_SIZE = 5000;
/** Patterns whose program may exceed this are refused without compiling (what passes compiles
 *  in 10-35 ms at the most, measured; the bound is about twice the real size). */
const MAX_SIZE_BOUND = 4 * MAX_PROGRAM_SIZE;

export class RegexSyntaxError extends Error {
  constructor(readonly detail: string) {
    super(`invalid regular expression: ${detail}`);
    this.name = "RegexSyntaxError";
  }
}

const GROUP_HEADER = /\(\?(?:P?<\w*>|[a-zA-Z-]*:)/y;
const FLAGS_ONLY = /\(\?[a-zA-Z-]*\)/y;
const COUNT = /\{(\d+)(?:(,)(\d*))?\}/y;
const NAMED_CLASS = /\[:\^?[a-z]+:\]/y;

function stickyMatch(re: RegExp, p: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(p);
}

/** Where the bracketed character class starting at i ends (RE2: a first ] is a literal). */
function classEnd(p: string, i: number): number {
  let j = i + 1;
  if (p[j] === "^") j++;
  if (p[j] === "]") j++;
  while (j < p.length && p[j] !== "]") {
    j = stickyMatch(NAMED_CLASS, p, j) ? NAMED_CLASS.lastIndex : j + (p[j] === "\\" ? 2 : 1);
  }
  return j + 1;
}

/**
 * An upper bound on the instructions re2js compiles pattern to, from its text alone: each
 * literal, escape or class at most 1, a group 3 more than its contents, an alternative 2,
 * a repetition {n,m} m copies and m + 2 more (RE2's own size estimate, made generous).
 * It terminates on any text; for an invalid pattern the number does not matter.
 */
export function programSizeBound(p: string): number {
  const open: { total: number; last: number }[] = [];
  let total = 3; // fail, match and a spare
  let last = 0; // the size of what a repetition operator would repeat
  let i = 0;
  const atom = (size: number): void => {
    total += size;
    last = size;
  };
  const repeat = (copies: number, extra: number): void => {
    total -= last;
    atom(copies * last + extra);
    if (p[i] === "?") i++; // lazy
  };
  while (i < p.length) {
    const c = p[i]!;
    const count = c === "{" ? stickyMatch(COUNT, p, i) : null;
    if (c === "\\" && p[i + 1] === "Q") {
      const end = p.indexOf("\\E", i + 2);
      const next = end < 0 ? p.length : end + 2;
      atom(next - i);
      i = next;
    } else if (c === "\\") {
      const braced = "xpP".includes(p[i + 1] ?? "") && p[i + 2] === "{";
      i = braced ? p.indexOf("}", i) + 1 || p.length : i + 2;
      atom(1);
    } else if (c === "[") {
      i = classEnd(p, i);
      atom(1);
    } else if (c === "(" && stickyMatch(FLAGS_ONLY, p, i)) {
      i = FLAGS_ONLY.lastIndex;
    } else if (c === "(") {
      i = stickyMatch(GROUP_HEADER, p, i) ? GROUP_HEADER.lastIndex : i + 1;
      open.push({ total, last });
      total = 0;
    } else if (c === ")") {
      i++;
      const group = total + 3;
      ({ total, last } = open.pop() ?? { total: 0, last: 0 });
      atom(group);
    } else if (c === "|") {
      i++;
      atom(2);
    } else if (c === "*" || c === "+" || c === "?") {
      i++;
      repeat(1, 2);
    } else if (count !== null) {
      i = COUNT.lastIndex;
      const [, min, comma, max] = count;
      const copies = comma && max ? Math.max(Number(min), Number(max)) : Number(min);
      repeat(copies, copies + 2);
    } else {
      i++;
      atom(1);
    }
  }
  return open.reduce((n, group) => n + group.total, total);
}

/** A compiled pattern: matches() on it, and its size for the cost estimate. */
export class Regex {
  private readonly re: RE2JS;

  /** Compiles pattern, or throws RegexSyntaxError saying what is wrong. */
  constructor(readonly pattern: string) {
    try {
      if (programSizeBound(pattern) > MAX_SIZE_BOUND) {
        new RE2Set().add(pattern); // parses without compiling: a syntax error is the better news
        throw new RegexSyntaxError(`pattern too large (over ${MAX_PROGRAM_SIZE} instructions)`);
      }
      this.re = RE2JS.compile(pattern);
    } catch (e) {
      throw wrap(e);
    }
    if (this.re.programSize() > MAX_PROGRAM_SIZE) {
      throw new RegexSyntaxError(`pattern too large (over ${MAX_PROGRAM_SIZE} instructions)`);
    }
  }

  /** Instructions in the compiled program: the per-character cost of a match. */
  get size(): number {
    return this.re.programSize();
  }

  /** True if the pattern matches anywhere in s (RE2's partial match, as CEL's matches()). */
  test(s: string): boolean {
    return this.re.test(s);
  }
}

function wrap(e: unknown): unknown {
  if (e instanceof RE2JSSyntaxException) {
    return new RegexSyntaxError(e.input ? `${e.error} in \`${e.input}\`` : e.error);
  }
  if (e instanceof RE2JSException) return new RegexSyntaxError(e.message);
  return e;
}
