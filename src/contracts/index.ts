// The public surface of contracts: rules on writes, written in CEL. Other folders import from
// here only.

export {
  COST_LIMIT,
  MAX_COMPREHENSION_DEPTH,
  MAX_EXPRESSION_BYTES,
  MAX_PATTERN_LENGTH,
} from "./compile.ts";
export type { RuleField, SourcePosition } from "./errors.ts";
export { RuleDecodeError, RuleValidationError } from "./errors.ts";
export type { Verdict } from "./evaluate.ts";
export { evaluate } from "./evaluate.ts";
export { evaluateRules, rulesForKey } from "./match.ts";
export type { Rule, RuleSpec } from "./rule.ts";
export {
  checkRuleShape,
  createRule,
  decodeRule,
  encodeRule,
  MAX_MESSAGE_BYTES,
  MAX_NAME_LENGTH,
  MAX_PREFIX_BYTES,
  validateRule,
} from "./rule.ts";
export type { WriteInput } from "./variables.ts";
export { MAX_JSON_DEPTH } from "./variables.ts";
