/**
 * @module evaluator
 * Runs one OPA-compiled policy (wasm + data) with our host builtins. The same
 * code runs inside the Worker Loader sandbox and, for the deploy-time baseline,
 * in the edge isolate itself.
 *
 * Values cross into and out of the wasm as text, never through a double
 * (policy-instance.ts): the input's JSON goes in as written, and the result
 * comes back as JSON-shaped values whose large integers are raw numbers, so
 * JSON.stringify of a decision prints exactly what `opa eval` prints.
 */
import { builtinsFor, type BuiltinContext } from "./builtins/index";
import { PrintLog } from "./builtins/print";
import { EvaluationBudgetExceeded, PolicyInstance, PolicyInstanceError } from "./policy-instance";
import { readRegoValue } from "./rego-value";
import type { EdgeRuntimeInfo } from "./sandbox-protocol";

/** 64 KiB pages; 1,024 pages = 64 MiB, far above what a decision needs. A loop in Rego allocates, so this bounds it too. */
const MEMORY_MAX_PAGES = 1024;
const MEMORY_INITIAL_PAGES = 5;
/**
 * A decision evaluates in tens of microseconds; one that has run 40 ms (wall
 * time, so a little slack for a busy machine) is a runaway, and is stopped at
 * its next host builtin call. On Cloudflare, whose clocks do not advance
 * while code runs, the sandbox's CPU limit (50 ms) is what stops it; where
 * they do (local runs), this does.
 */
export const EVALUATION_BUDGET_MS = 40;

export class PolicyEvaluationError extends Error {
  constructor(
    readonly code: "policy_undefined" | "policy_aborted" | "policy_timeout",
    message: string,
    /** What the policy printed before it failed to answer. */
    readonly print?: string[],
  ) {
    super(message);
  }
}

export interface EvaluationOutcome {
  /** The entrypoint's value, JSON-shaped (sets as arrays in OPA's order). */
  result: unknown;
  /** What the policy printed during this evaluation, bounded (see builtins/print.ts). */
  print?: string[];
}

interface EvaluationState {
  /** performance.now() past which the evaluation is stopped. */
  deadline: number;
  nowNs: bigint;
  runtime: EdgeRuntimeInfo | undefined;
  print: PrintLog;
  memo: Map<string, unknown>;
}

/** How OPA dumps a result set of one, the usual answer of an entrypoint: `{{"result": X}}`. */
const ONE_RESULT = /^\{\{"result":\s*/;

/**
 * The result set as JSON-shaped values. A set of one is read without the set
 * around it, so that its value, usually plain JSON, takes the runtime's own
 * parser (rego-value.ts); anything else is read whole.
 */
function readResultSet(text: string): unknown {
  const head = ONE_RESULT.exec(text);
  if (head && text.endsWith("}}")) {
    try {
      return [{ result: readRegoValue(text.slice(head[0].length, -2), { shape: "json" }) }];
    } catch {
      // More than one result: the slice is not one value.
    }
  }
  return readRegoValue(text, { shape: "json" });
}

export class PolicyEvaluator {
  private constructor(
    private readonly policy: PolicyInstance,
    private readonly entrypointId: number,
    private readonly entrypoint: string,
    private readonly state: EvaluationState,
  ) {}

  /** `data` is the layer's data document, as its JSON text (exact) or as a value. */
  static async load(wasm: WebAssembly.Module, data: unknown, entrypoint: string): Promise<PolicyEvaluator> {
    const state: EvaluationState = { deadline: Number.POSITIVE_INFINITY, nowNs: 0n, runtime: undefined, print: new PrintLog(), memo: new Map() };
    const context: BuiltinContext = {
      nowNs: () => state.nowNs,
      memo: state.memo,
      print: (line) => state.print.add(line),
      runtime: () => state.runtime,
    };
    const policy = await PolicyInstance.create(wasm, {
      memory: { initial: MEMORY_INITIAL_PAGES, maximum: MEMORY_MAX_PAGES },
      builtins: (names) => builtinsFor(names, context),
      checkBudget: () => {
        if (performance.now() > state.deadline) throw new EvaluationBudgetExceeded("the policy ran past its evaluation budget");
      },
    });
    policy.setData(typeof data === "string" ? data : JSON.stringify(data ?? {}));
    const id = policy.entrypoints[entrypoint];
    if (id === undefined) {
      throw new PolicyEvaluationError(
        "policy_undefined",
        `entrypoint ${entrypoint} is not in the policy (has: ${Object.keys(policy.entrypoints).join(", ")})`,
      );
    }
    return new PolicyEvaluator(policy, id, entrypoint, state);
  }

  /**
   * Evaluates the entrypoint for a JSON input. `nowMs` is the edge's clock:
   * every time builtin in this evaluation sees the same instant, as in OPA.
   * `runtime` is what opa.runtime() tells the policy about the edge.
   */
  evaluate(inputJson: string, nowMs: number, runtime?: EdgeRuntimeInfo, budgetMs = EVALUATION_BUDGET_MS): EvaluationOutcome {
    const text = this.run(inputJson, nowMs, runtime, budgetMs);
    return { result: this.resultOf(readResultSet(text)), ...this.printedOutcome() };
  }

  /**
   * The same evaluation, its result as text in OPA's value syntax: what the
   * sandbox sends the edge, which reads it (rego-value.ts) as it reads any
   * value. The entrypoint's value is cut out of the result set OPA dumped,
   * unread, so it is parsed once, at the edge, rather than checked here and
   * parsed there. A result set of another shape is read here, and an empty
   * one is an undefined entrypoint.
   */
  evaluateToText(inputJson: string, nowMs: number, runtime?: EdgeRuntimeInfo, budgetMs = EVALUATION_BUDGET_MS): { text: string; print?: string[] } {
    const text = this.run(inputJson, nowMs, runtime, budgetMs);
    const head = ONE_RESULT.exec(text);
    if (head && text.endsWith("}}")) return { text: text.slice(head[0].length, -2), ...this.printedOutcome() };
    return { text: JSON.stringify(this.resultOf(readResultSet(text))), ...this.printedOutcome() };
  }

  /** Runs the evaluation and returns OPA's result set as it dumped it. */
  private run(inputJson: string, nowMs: number, runtime: EdgeRuntimeInfo | undefined, budgetMs: number): string {
    this.state.nowNs = BigInt(Math.trunc(nowMs)) * 1_000_000n;
    this.state.runtime = runtime;
    this.state.deadline = performance.now() + budgetMs;
    try {
      // A reset may replay earlier inputs (policy-instance.ts): whatever they printed or memoized is cleared below.
      this.policy.prepare();
      this.state.memo.clear();
      this.state.print.clear();
      this.state.deadline = performance.now() + budgetMs;
      return this.policy.evaluate(this.entrypointId, inputJson);
    } catch (error) {
      if (error instanceof EvaluationBudgetExceeded) throw new PolicyEvaluationError("policy_timeout", error.message, this.printed());
      const detail = error instanceof PolicyInstanceError ? error.message : String((error as Error)?.message ?? error);
      throw new PolicyEvaluationError("policy_aborted", `policy evaluation aborted: ${detail}`, this.printed());
    }
  }

  /** The entrypoint's value from the result set; an empty set is an undefined entrypoint. */
  private resultOf(resultSet: unknown): unknown {
    if (!Array.isArray(resultSet) || resultSet.length === 0) {
      throw new PolicyEvaluationError("policy_undefined", `${this.entrypoint} is undefined for this input`, this.printed());
    }
    return (resultSet[0] as { result: unknown }).result;
  }

  private printedOutcome(): { print?: string[] } {
    const print = this.state.print.lines();
    return print.length > 0 ? { print } : {};
  }

  private printed(): string[] | undefined {
    const lines = this.state.print.lines();
    return lines.length > 0 ? lines : undefined;
  }

  /** Current size of the policy's linear memory, for the memory-bound check. */
  memoryBytes(): number {
    return this.policy.memoryBytes();
  }

  /** How far the policy's heap reaches: its data and what evaluations keep (policy-instance.ts). */
  heapBytes(): number {
    return this.policy.heapBytes();
  }
}
