// A static upper bound on the work a rule does for a given input, computed before it runs.
//
// The CEL library has no step counter, and a runtime limit read from a clock would differ
// between members. So the bound is a function of the expression and the sizes of the input
// only, and every member reaches the same verdict: a write whose bound exceeds the limit is
// rejected without running the rule.
//
// Units: evaluating one AST node is 1 (100-200 ns measured); touching 16 bytes or characters of
// data is 1; one character through one instruction of the regex program is 1 (re2js, measured:
// up to ~180 ns on patterns built to defeat its DFA, far less on ordinary ones).
//
// Every value has four measures: weight (an upper bound on its bytes/characters, plus one per
// element, so the weights of a container's children sum to at most the container's), fanout (its
// own number of elements: a comprehension's iteration count), width (the largest fanout of it or
// anything inside it) and inner (the largest width of any of its elements). Where a value is
// a part of the input reached by fixed field names (value.json.items), the measures are the
// actual part's, so a document with 3000 items of 3 tags bounds a loop over tags by 3, not 3000.
//
// Iterating a value visits children whose weights sum to its weight. So a comprehension is
// charged width × (its body's cost for an empty element) plus, once, the extra cost of a body
// whose element has the whole weight. That is sound because every cost here is built from
// sums, products and maxima of non-negative terms, so it is convex in the element's weight.
import type { ASTNode } from "@marcbachmann/cel-js";

export interface Measure {
  readonly weight: number;
  readonly fanout: number;
  readonly width: number;
  readonly inner: number;
}

export interface Estimate extends Measure {
  readonly cost: number;
  /** The actual input value, when the expression reaches it by variables and fixed names. */
  readonly data?: unknown;
}

const BYTES_PER_UNIT = 16;
const REGEX_STEPS_PER_UNIT = 1;
/** Weight of a scalar (number, bool, null) and the most any conversion to string adds. */
const SCALAR: Measure = { weight: 1, fanout: 0, width: 0, inner: 0 };
const CONVERTED = 32;

const COMPREHENSIONS = new Set(["all", "exists", "exists_one", "map", "filter"]);

export class CostEstimateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CostEstimateError";
  }
}

export interface CostModel {
  /** The variables the rule sees, from the actual input. */
  readonly variables: Readonly<Record<string, unknown>>;
  /** Instruction count of a literal regex pattern (already compiled), or undefined. */
  readonly regexSize: (pattern: string) => number | undefined;
  /** Upper bound for a pattern only known at run time. */
  readonly maxRegexSize: number;
  /** The internal name matches() is rewritten to, also charged as a regex. */
  readonly matchesNames: ReadonlySet<string>;
}

type Scope = ReadonlyMap<string, Measure>;

/** The cost bound of evaluating node for the model's input. */
export function estimateCost(node: ASTNode, model: CostModel): number {
  return estimate(node, new Map(), model).cost;
}

function bytes(weight: number): number {
  return weight / BYTES_PER_UNIT;
}

/** A measure for a value that is not part of the input (its parts are bounded by the whole). */
function opaque(weight: number, width: number): Measure {
  return { weight, fanout: width, width, inner: width };
}

/** Measures of input values, which are never changed once built (a document is measured once
 *  per write, however many rules look at it). */
const measured = new WeakMap<object, Measure>();

/** The actual measures of an input value. */
function measureData(v: unknown): Measure {
  if (typeof v === "string" || v instanceof Uint8Array) return opaque(v.length, 0);
  if (!(v instanceof Map) && !Array.isArray(v)) return SCALAR;
  const known = measured.get(v);
  if (known !== undefined) return known;
  const children = v instanceof Map ? [...v.keys(), ...v.values()] : v;
  const count = v instanceof Map ? v.size : v.length;
  let weight = count;
  let inner = 0;
  for (const child of children) {
    const m = measureData(child);
    weight += m.weight;
    inner = Math.max(inner, m.width);
  }
  const m = { weight, fanout: count, width: Math.max(count, inner), inner };
  measured.set(v, m);
  return m;
}

/** A part of a value that is not input data: bounded by the whole. */
function within(m: Measure): Measure {
  return { weight: m.weight, fanout: m.width, width: m.width, inner: m.inner };
}

/** The part of an input value that a fixed field name or literal index selects, if any. */
function part(data: unknown, key: unknown): unknown {
  if (data instanceof Map) return data.get(key);
  if (Array.isArray(data) && typeof key === "bigint") return data[Number(key)];
  return undefined;
}

function estimate(node: ASTNode, scope: Scope, model: CostModel): Estimate {
  const sub = (n: ASTNode): Estimate => estimate(n, scope, model);
  const known = (cost: number, data: unknown): Estimate =>
    data === undefined ? { cost, ...SCALAR } : { cost, ...measureData(data), data };
  switch (node.op) {
    case "value":
      return known(1, node.args);
    case "id": {
      const bound = scope.get(node.args);
      if (bound !== undefined) return { cost: 1, ...bound };
      return known(1, Object.hasOwn(model.variables, node.args) ? model.variables[node.args] : 1);
    }
    case ".":
    case ".?": {
      const obj = sub(node.args[0]);
      const data = part(obj.data, node.args[1]);
      if (data !== undefined) return known(1 + obj.cost, data);
      return { ...within(obj), cost: 1 + obj.cost };
    }
    case "[]":
    case "[?]": {
      const obj = sub(node.args[0]);
      const index = sub(node.args[1]);
      const cost = 1 + obj.cost + index.cost + bytes(index.weight);
      const data = node.args[1].op === "value" ? part(obj.data, node.args[1].args) : undefined;
      if (data !== undefined) return known(cost, data);
      return { ...within(obj), cost };
    }
    case "list":
      return aggregate(node.args.map(sub), node.args.length);
    case "map":
      return aggregate(
        node.args.flatMap(([k, v]) => [sub(k), sub(v)]),
        node.args.length,
      );
    case "?:": {
      const [cond, a, b] = node.args.map(sub) as [Estimate, Estimate, Estimate];
      return {
        cost: 1 + cond.cost + Math.max(a.cost, b.cost),
        weight: Math.max(a.weight, b.weight),
        fanout: Math.max(a.fanout, b.fanout),
        width: Math.max(a.width, b.width),
        inner: Math.max(a.inner, b.inner),
      };
    }
    case "&&":
    case "||":
    case "-":
    case "*":
    case "/":
    case "%": {
      const [a, b] = node.args.map(sub) as [Estimate, Estimate];
      return { cost: 1 + a.cost + b.cost, ...SCALAR };
    }
    case "!_":
    case "-_":
      return { cost: 1 + sub(node.args).cost, ...SCALAR };
    case "==":
    case "!=":
    case "<":
    case "<=":
    case ">":
    case ">=": {
      const [a, b] = node.args.map(sub) as [Estimate, Estimate];
      return { cost: 1 + a.cost + b.cost + bytes(a.weight + b.weight), ...SCALAR };
    }
    case "in": {
      const [a, b] = node.args.map(sub) as [Estimate, Estimate];
      return { cost: 1 + a.cost + b.cost + b.width + bytes(a.weight + b.weight), ...SCALAR };
    }
    case "+": {
      const [a, b] = node.args.map(sub) as [Estimate, Estimate];
      return {
        cost: 1 + a.cost + b.cost + bytes(a.weight + b.weight),
        weight: a.weight + b.weight,
        fanout: a.fanout + b.fanout,
        width: a.width + b.width,
        inner: Math.max(a.width, b.width),
      };
    }
    case "call":
      return call(node.args[0], null, node.args[1], scope, model);
    case "rcall":
      return call(node.args[0], node.args[1], node.args[2], scope, model);
    default:
      throw new CostEstimateError(`unsupported expression node "${(node as ASTNode).op}"`);
  }
}

function aggregate(items: Estimate[], count: number): Estimate {
  let cost = 1 + count;
  let weight = count;
  let inner = 0;
  for (const item of items) {
    cost += item.cost;
    weight += item.weight;
    inner = Math.max(inner, item.width);
  }
  return { cost, weight, fanout: count, width: Math.max(count, inner), inner };
}

function call(
  name: string,
  receiver: ASTNode | null,
  args: ASTNode[],
  scope: Scope,
  model: CostModel,
): Estimate {
  const sub = (n: ASTNode, s: Scope = scope): Estimate => estimate(n, s, model);
  if (receiver !== null && COMPREHENSIONS.has(name) && args[0]?.op === "id") {
    return comprehension(name, sub(receiver), args, scope, model);
  }
  if (name === "bind" && receiver?.op === "id" && args.length === 3 && args[0]?.op === "id") {
    // cel.bind(x, init, body): body once, with x as heavy as init.
    const init = sub(args[1]!);
    const { weight, fanout, width, inner } = init;
    const bound = { weight, fanout, width, inner };
    const body = sub(args[2]!, new Map(scope).set(args[0].args, bound));
    return { ...body, cost: 1 + init.cost + body.cost, data: undefined };
  }
  if (name === "has") return { cost: 1 + sub(args[0]!).cost, ...SCALAR };

  const operands = (receiver === null ? args : [receiver, ...args]).map((a) => sub(a));
  let cost = 1;
  let weight = 0;
  for (const o of operands) {
    cost += o.cost + bytes(o.weight);
    weight += o.weight;
  }
  if (model.matchesNames.has(name) && operands.length === 2) {
    const pattern = receiver === null ? args[1] : args[0];
    const literal = pattern?.op === "value" && typeof pattern.args === "string";
    const size =
      (literal ? model.regexSize(pattern.args as string) : undefined) ?? model.maxRegexSize;
    cost += (operands[0]!.weight * size) / REGEX_STEPS_PER_UNIT;
    return { cost, ...SCALAR };
  }
  // Everything else in the standard library is linear in its operands, and its result is no
  // bigger than them (hex and base64 double it; a conversion to string adds a little).
  const grows = name === "hex" || name === "base64" ? 2 : 1;
  return { cost, ...opaque(weight * grows + CONVERTED, weight * grows + CONVERTED) };
}

function comprehension(
  name: string,
  range: Estimate,
  args: ASTNode[],
  scope: Scope,
  model: CostModel,
): Estimate {
  const variable = args[0]!.args as string;
  const bodies = args.slice(1);
  // A map's elements are its keys (strings): no width. A list's are bounded by its inner width.
  const width = range.data instanceof Map ? 0 : range.inner;
  const withElement = (weight: number): Estimate[] => {
    const inner = new Map(scope).set(variable, { weight, fanout: width, width, inner: width });
    return bodies.map((b) => estimate(b, inner, model));
  };
  const light = withElement(0);
  const heavy = withElement(range.weight);
  const n = range.fanout;
  let cost = 1 + range.cost + n;
  for (let i = 0; i < bodies.length; i++) {
    cost += n * light[i]!.cost + (heavy[i]!.cost - light[i]!.cost);
  }
  if (name === "filter") return { cost, ...opaque(range.weight, range.width) };
  if (name !== "map") return { cost, ...SCALAR };
  const lightT = light[light.length - 1]!;
  const heavyT = heavy[heavy.length - 1]!;
  return {
    cost,
    ...opaque(n * (1 + lightT.weight) + (heavyT.weight - lightT.weight), Math.max(n, heavyT.width)),
  };
}

/** How deeply comprehension bodies nest (estimating a body costs twice its nested bodies). */
export function comprehensionDepth(node: ASTNode): number {
  let deepest = 0;
  const visit = (n: unknown, depth: number): void => {
    if (Array.isArray(n)) {
      for (const item of n) visit(item, depth);
      return;
    }
    if (n === null || typeof n !== "object" || !("op" in n) || !("args" in n)) return;
    const node = n as ASTNode;
    deepest = Math.max(deepest, depth);
    if (node.op === "rcall" && COMPREHENSIONS.has(node.args[0])) {
      visit(node.args[1], depth);
      visit(node.args[2], depth + 1);
      deepest = Math.max(deepest, depth + 1);
      return;
    }
    visit(node.args, depth);
  };
  visit(node, 0);
  return deepest;
}
