// The kv store's WriteGuard, built on contracts/: kv finds the stored rules, this decodes and
// evaluates them. Decoded rules are cached by their bytes (a rule's bytes fully determine it), so
// a batch re-reading the same rules does not decode them again; the cache only saves work and
// never changes a verdict, so every member still decides alike.
import {
  createRule,
  decodeRule,
  encodeRule,
  evaluateRules,
  type Rule,
  type RuleSpec,
  validateRule,
} from "../contracts/index.ts";
import type { GuardedWrite, StoredRule, WriteGuard, WriteRules } from "../kv/index.ts";

/** Enough for any realistic rule set; past it the cache starts over. */
const MAX_CACHED = 4096;

export class ContractGuard implements WriteGuard {
  private readonly decoded = new Map<string, Rule | string>();

  validateRule(name: string, bytes: Uint8Array): string | null {
    const rule = this.decode(bytes);
    if (typeof rule === "string") return rule;
    try {
      // Decoding checked the shape; this compiles and type-checks the expression.
      validateRule(rule);
    } catch (error) {
      return (error as Error).message;
    }
    if (rule.name !== name) return `rule is named "${rule.name}", not "${name}"`;
    return null;
  }

  load(stored: readonly StoredRule[]): WriteRules {
    const rules: Rule[] = [];
    for (const { name, rule: bytes } of stored) {
      const rule = this.decode(bytes);
      // Only a damaged store holds such a rule (rules are validated when set): fail closed.
      rules.push(
        typeof rule === "string"
          ? { name, prefix: new Uint8Array(0), expression: "false", message: `unreadable: ${rule}` }
          : rule,
      );
    }
    return {
      check: (write: GuardedWrite) => {
        const verdict = evaluateRules(rules, write);
        return verdict.allowed ? null : `contract ${verdict.reason}`;
      },
    };
  }

  /** The rule, or why the bytes are not one. */
  private decode(bytes: Uint8Array): Rule | string {
    const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
    let rule = this.decoded.get(key);
    if (rule === undefined) {
      try {
        rule = decodeRule(bytes);
      } catch (error) {
        rule = (error as Error).message;
      }
      if (this.decoded.size >= MAX_CACHED) this.decoded.clear();
      this.decoded.set(key, rule);
    }
    return rule;
  }
}

/** The stored encoding of a rule given by its parts, or why it cannot be stored (for the API,
 *  which checks a rule before proposing it; apply checks it again on every member). */
export function encodeRuleSpec(spec: RuleSpec): { rule: Uint8Array } | { error: string } {
  try {
    return { rule: encodeRule(createRule(spec)) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}
