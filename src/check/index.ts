// The public surface of the linearizability checker. Other folders import from here only.

export { formatHistoryJsonLines, parseHistoryJsonLines } from "./history_jsonl.ts";
export type { KvOperation, KvOperationKind } from "./kv_operation.ts";
export { KvOperationError, validateKvOperation } from "./kv_operation.ts";
export type {
  CheckResult,
  RegisterInput,
  RegisterModel,
  RegisterOperation,
  RegisterOutput,
  ValueId,
} from "./kv_register.ts";
export { checkKvHistory, createRegisterModel } from "./kv_register.ts";
export type { Counterexample, OperationsCheck } from "./linearizability.ts";
export { checkOperations, DEFAULT_MAX_STEPS } from "./linearizability.ts";
export type { CheckBudget, CheckVerdict, Model, Operation, StepResult } from "./model.ts";
