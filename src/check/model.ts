// The generic vocabulary of the checker: operations with real-time intervals, and the sequential
// model they must be explained by.

/** One call of the system under test, as the checker sees it. */
export interface Operation<Input, Output> {
  /** Who issued it; only for reports. */
  readonly client: number;
  readonly input: Input;
  readonly output: Output;
  /** When it was invoked, on any monotonic clock (only the order of times matters). */
  readonly call: number;
  /** When its response arrived, on the same clock; `Infinity` when the outcome is unknown. */
  readonly return: number;
}

/**
 * What a model's `step` answers. The checker reads it before calling `step` again, so a model
 * may return one reused object instead of allocating a result per step.
 */
export interface StepResult<State> {
  ok: boolean;
  state: State;
}

/** A sequential specification: the behaviour every linearization must follow. */
export interface Model<State, Input, Output> {
  init(): State;
  /** Applies `input` to `state`; `ok` is false when `output` cannot be its result. */
  step(state: State, input: Input, output: Output): StepResult<State>;
  /** Together with `hash`, lets the search skip (linearized set, state) pairs it has seen. */
  equal(a: State, b: State): boolean;
  /** Any integer; equal states must hash the same. */
  hash(state: State): number;
  /**
   * Splits a history into independent parts (P-compositionality: a history is linearizable iff
   * each part is), e.g. one per key. Without it the whole history is one part.
   */
  partition?(ops: readonly Operation<Input, Output>[]): Operation<Input, Output>[][];
}

/** `unknown`: the search gave up after its step budget. */
export type CheckVerdict = "linearizable" | "not-linearizable" | "unknown";

export interface CheckBudget {
  /** Search steps allowed across all partitions. */
  maxSteps?: number;
}
