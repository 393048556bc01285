// Evaluating one rule against one write. Fails closed: a rule that cannot be compiled, that
// would cost too much for this write, that errors at run time or that returns anything but true
// rejects the write, with a reason naming the rule. Nothing here reads a clock or randomness, so
// every member reaches the same verdict for the same rule and write.
import { COST_LIMIT, compileCached, costModel, describeRuntimeError } from "./compile.ts";
import { estimateCost } from "./cost.ts";
import type { Rule } from "./rule.ts";
import { activationFor, type WriteInput } from "./variables.ts";

export type Verdict =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** The rule that rejected the write. */
      readonly rule: string;
      /** Names the rule and says why: its message, or the error that stopped it. */
      readonly reason: string;
    };

const ALLOWED: Verdict = { allowed: true };

function reject(rule: Rule, why: string): Verdict {
  return { allowed: false, rule: rule.name, reason: `rule "${rule.name}" ${why}` };
}

/** Whether rule allows the write described by input (see variables.ts for what it sees). */
export function evaluate(rule: Rule, input: WriteInput): Verdict {
  let program: ReturnType<typeof compileCached>;
  try {
    program = compileCached(rule.expression);
  } catch (e) {
    return reject(rule, `cannot be compiled, so it rejects every write: ${(e as Error).message}`);
  }
  let activation: ReturnType<typeof activationFor>;
  let cost: number;
  try {
    activation = activationFor(input);
    cost = estimateCost(program.ast, costModel(activation.values));
  } catch (e) {
    return reject(rule, `failed: ${(e as Error).message}`);
  }
  if (cost > COST_LIMIT) {
    return reject(
      rule,
      `failed: cost limit exceeded: estimated cost ${Math.ceil(cost)} for this write, ` +
        `over the limit of ${COST_LIMIT}`,
    );
  }
  let result: unknown;
  try {
    result = program.run(activation.values);
  } catch (e) {
    return reject(rule, `failed: ${describeRuntimeError(rule.expression, e)}`);
  }
  if (result === true) return ALLOWED;
  if (result === false) return reject(rule, `rejected the write: ${rule.message || "no message"}`);
  return reject(rule, `failed: returned ${typeof result}, not a bool`);
}
