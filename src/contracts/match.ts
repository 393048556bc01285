// Which rules apply to a write, and the combined verdict. Deterministic: rules run in name
// order (compared by UTF-16 code unit, never by locale) and the first rejection decides.
import { evaluate, type Verdict } from "./evaluate.ts";
import type { Rule } from "./rule.ts";
import type { WriteInput } from "./variables.ts";

function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > key.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

function byName(a: Rule, b: Rule): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Every rule whose prefix is a prefix of key, in name order (the order they are evaluated in). */
export function rulesForKey(rules: Iterable<Rule>, key: Uint8Array): Rule[] {
  const out: Rule[] = [];
  for (const rule of rules) if (hasPrefix(key, rule.prefix)) out.push(rule);
  return out.sort(byName);
}

/** Evaluates the rules that apply to input.key in name order; the first rejection is the
 *  verdict (later rules could not change it, so they are not run). */
export function evaluateRules(rules: Iterable<Rule>, input: WriteInput): Verdict {
  for (const rule of rulesForKey(rules, input.key)) {
    const verdict = evaluate(rule, input);
    if (!verdict.allowed) return verdict;
  }
  return { allowed: true };
}
